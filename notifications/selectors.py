"""Reads for the inbox, the bell and the outbox sweep."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet

from notifications.models import Delivery, Notification

# The bell shows "99+" beyond this: counting is bounded however many are unread.
UNREAD_COUNT_CAP = 100


def notifications_for_user(*, user) -> QuerySet[Notification]:
    """The user's notifications, newest first, with the ticket number in the same query."""
    return (
        Notification.objects.for_recipient(user)
        .select_related("ticket")
        .only(
            "id",
            "recipient_id",
            "kind",
            "title",
            "body",
            "url",
            "created_at",
            "read_at",
            "ticket__id",
            "ticket__number",
        )
        .order_by("-id")
    )


def notifications_unread_count(*, user, cap: int = UNREAD_COUNT_CAP) -> int:
    """Unread notifications of ``user``, counted up to ``cap`` in one query (0 for anonymous).

    Every page's bell asks it; the statement is written out because building it with the ORM
    (``for_recipient(user).unread()[:cap].count()``) costs four times the database's answer.
    """
    if user is None or not user.is_authenticated:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(_unread_count_sql(), [user.pk, cap])
        return cursor.fetchone()[0]


@functools.cache
def _unread_count_sql() -> str:
    quote = connection.ops.quote_name
    meta = Notification._meta
    recipient = quote(meta.get_field("recipient").column)
    read_at = quote(meta.get_field("read_at").column)
    return (
        f"SELECT COUNT(*) FROM (SELECT 1 FROM {quote(meta.db_table)}"
        f" WHERE {recipient} = %s AND {read_at} IS NULL LIMIT %s) unread"
    )


def deliveries_due(
    *, now: datetime, first_attempt_grace: timedelta, stale_after: timedelta, limit: int
) -> list[int]:
    """Ids of deliveries the outbox sweep should enqueue, oldest first."""
    return list(
        Delivery.objects.due(
            now=now, first_attempt_grace=first_attempt_grace, stale_after=stale_after
        )
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )


def deliveries_expired_ids(*, created_before: datetime, after_id: int, limit: int) -> list[int]:
    """Ids above ``after_id`` of finished deliveries created before ``created_before``, in order."""
    return list(
        Delivery.objects.finished()
        .filter(created_at__lt=created_before, pk__gt=after_id)
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )


def notifications_expired_ids(
    *, read_before: datetime, created_before: datetime, after_id: int, limit: int
) -> list[int]:
    """Ids above ``after_id`` of notifications past retention, in order.

    A notification with a delivery still pending or being sent is left out: the worker needs
    the row (and the admin its log) until the delivery has finished.
    """
    unfinished = Delivery.objects.unfinished().filter(notification=OuterRef("pk"))
    return list(
        Notification.objects.expired(read_before=read_before, created_before=created_before)
        .filter(~Exists(unfinished), pk__gt=after_id)
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
