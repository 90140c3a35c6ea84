"""The ticket REST API (``/api/v1/tickets/``), split by subdomain.

Reads go through ``tickets.selectors``, writes through ``tickets.services`` (and
``tickets.attachments``); ``DomainError`` becomes HTTP in ``opsdesk.errors`` only. Systems,
vendors and categories are referenced by ``code``. ``serializers`` holds the output
representations, ``inputs`` the input serializers (parse and type-check only),
``ordering`` the ``?ordering=`` backend, and ``views`` the one thin viewset with its
optimistic-concurrency (``If-Match`` / ``ETag``) helpers.
"""
