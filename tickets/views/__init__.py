"""Ticket HTML pages, split by subdomain: ``lists`` (list, export, bulk), ``create`` (log a
call, new request, edit) and ``detail`` (the ticket page and its POST actions)."""
