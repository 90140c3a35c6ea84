"""Creating a ticket once per form: a double click or a resent form opens the first ticket.

Each create form carries a random ``submission`` token. The session remembers which ticket
each recent token created, so posting the same form again (a second click, the browser's
"resend", a retry after a slow answer) leads to that ticket instead of logging the call twice.
The form's script also disables the submit button after the first click; two posts that
arrive within the same few milliseconds can still both create (the session is written when
the first answer leaves).
"""

from __future__ import annotations

import re
import uuid

from django.http import HttpRequest

FIELD = "submission"
SESSION_KEY = "opsdesk.submissions"
REMEMBERED = 20  # tokens per session: the forms an agent may have open at once
_TOKEN = re.compile(r"[0-9a-f]{32}")


def new_token() -> str:
    return uuid.uuid4().hex


def posted_token(request: HttpRequest) -> str | None:
    """The form's token, if it is one (anything else: no protection, never an error)."""
    token = request.POST.get(FIELD, "")
    return token if _TOKEN.fullmatch(token) else None


def form_token(request: HttpRequest) -> str:
    """The token to render: the posted one on a redisplay (errors), else a fresh one."""
    return posted_token(request) or new_token()


def created_by(request: HttpRequest, token: str | None) -> int | None:
    """The id of the ticket this token already created in this session, if any."""
    if token is None:
        return None
    return request.session.get(SESSION_KEY, {}).get(token)


def remember(request: HttpRequest, token: str | None, ticket_id: int) -> None:
    if token is None:
        return
    recent = dict(request.session.get(SESSION_KEY, {}))
    recent[token] = ticket_id
    request.session[SESSION_KEY] = dict(list(recent.items())[-REMEMBERED:])
