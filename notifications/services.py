"""Notification writes: the inbox, and the outbox that sends e-mail and group-robot messages.

Delivery is a transactional outbox (发件箱):

1. ``notifications_create_bulk`` inserts ``Notification`` and ``Delivery`` rows in the caller's
   transaction — a ticket and its notifications commit or roll back together.
2. After commit, ``deliveries_enqueue`` publishes one ``deliver`` task per delivery with a
   short, bounded broker timeout. If the broker is down it logs a warning and returns: the
   request that created the ticket neither fails nor hangs.
3. The worker runs ``delivery_send``: it claims the row with a conditional UPDATE
   (pending → sending), sends outside any transaction, and records sent / retry / failed.
   A failed attempt is rescheduled on the row itself (``next_attempt_at``, exponential
   backoff); the task never uses ``self.retry``, so the row is the only retry state.
4. ``deliveries_sweep`` (Celery beat, every minute) enqueues whatever is still due: first
   attempts whose publish was lost, retries whose backoff has elapsed, and claims left behind
   by a worker that died mid-send. Escalations missed while Redis was down go out once it is
   back.
5. ``notifications_purge`` (Celery beat, nightly) deletes notifications and finished
   deliveries past retention, so neither table grows without bound.

Sending is at-least-once only across a worker crash after the robot accepted the message but
before the row was marked sent; two live workers never send the same row twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import router, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from directory.models import User
from notifications import channels, selectors
from notifications.channels import DeliveryError
from notifications.models import (
    Delivery,
    DeliveryChannel,
    DeliveryStatus,
    Notification,
    NotificationKind,
    WebhookEndpoint,
    redact_url,
)
from opsdesk.celery import app as celery_app
from opsdesk.errors import NotFound

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
# Attempt n failed → retry after BACKOFF_BASE * 2**(n-1): 1, 2, 4, 8, 16 minutes.
BACKOFF_BASE = timedelta(minutes=1)
# A claim this old belongs to a worker that died mid-send; the row may be claimed again.
CLAIM_STALE_AFTER = timedelta(minutes=10)
# Web servers and workers are different hosts: tolerate small clock differences when a
# fresh row (next_attempt_at = "now" on the web server) is claimed by a worker.
CLAIM_CLOCK_TOLERANCE = timedelta(seconds=5)
# First attempts are published on commit; the sweep only takes them over after this.
FIRST_ATTEMPT_GRACE = timedelta(minutes=1)
SWEEP_BATCH_SIZE = 500
# Publishing happens in the web request after commit: fail fast instead of using the
# worker-oriented broker timeouts (a silent Redis would otherwise block for socket_timeout).
PUBLISH_TRANSPORT_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 1, "max_retries": 0}
EMAIL_SUBJECT_PREFIX = "[Opsdesk] "
# Retention deletes this many ids per DELETE, each batch in its own transaction: a backlog on
# a big table never holds row locks, or one huge transaction, for long.
PURGE_BATCH_SIZE = 5000


@dataclass(frozen=True)
class NotificationDraft:
    recipient_id: int
    ticket_id: int | None
    kind: str  # e.g. "escalation", "grade1_created", "assigned"
    title: str
    body: str
    url: str = ""


def ticket_url(ticket_id: int) -> str:
    try:
        return reverse("tickets:detail", args=[ticket_id])
    except NoReverseMatch:  # the ticket pages may not be routed (yet)
        return f"/tickets/{ticket_id}/"


def notifications_create_bulk(*, rows: Sequence[NotificationDraft]) -> int:
    """Insert in-app notifications (one bulk INSERT) and queue e-mail/webhook delivery after commit.

    Call it inside the transaction that makes the change being notified. A fixed number of
    queries whatever the number of rows: recipients' e-mail addresses, active endpoints, one
    INSERT of notifications, one INSERT of deliveries. Delivery rows are published to Celery
    only after the outermost transaction commits; nothing is sent if it rolls back.
    Returns the number of notifications created.
    """
    rows = list(rows)
    if not rows:
        return 0
    now = timezone.now()
    notifications = [
        Notification(
            recipient_id=row.recipient_id,
            ticket_id=row.ticket_id,
            kind=row.kind,
            title=row.title[:200],
            body=row.body,
            url=row.url or (ticket_url(row.ticket_id) if row.ticket_id else ""),
            created_at=now,
        )
        for row in rows
    ]
    with transaction.atomic():
        Notification.objects.bulk_create(notifications)
        deliveries = [
            *_email_deliveries(notifications, now=now),
            *_webhook_deliveries(notifications, now=now),
        ]
        if deliveries:
            Delivery.objects.bulk_create(deliveries)
            delivery_ids = [delivery.pk for delivery in deliveries if delivery.pk is not None]
            # Without RETURNING support the ids are unknown: the sweep sends them instead.
            if delivery_ids:
                transaction.on_commit(partial(deliveries_enqueue, delivery_ids=delivery_ids))
    return len(notifications)


def _email_deliveries(notifications: list[Notification], *, now: datetime) -> list[Delivery]:
    if not settings.OPSDESK_EMAIL_NOTIFICATIONS_ENABLED:
        return []
    recipient_ids = {notification.recipient_id for notification in notifications}
    addresses = dict(
        User.objects.filter(pk__in=recipient_ids, is_active=True)
        .exclude(email="")
        .values_list("pk", "email")
    )
    return [
        Delivery(
            channel=DeliveryChannel.EMAIL,
            notification=notification,
            address=addresses[notification.recipient_id],
            payload={
                "subject": EMAIL_SUBJECT_PREFIX + notification.title,
                "body": channels.email_body(body=notification.body, url=notification.url),
            },
            max_attempts=MAX_ATTEMPTS,
            next_attempt_at=now,
            created_at=now,
        )
        for notification in notifications
        if notification.recipient_id in addresses
    ]


def _webhook_deliveries(notifications: list[Notification], *, now: datetime) -> list[Delivery]:
    """One robot message per event, not per recipient: a group chat must not get ten copies."""
    if not settings.OPSDESK_WEBHOOKS_ENABLED:
        return []
    endpoints = list(WebhookEndpoint.objects.active().order_by("id"))
    if not endpoints:
        return []
    events: dict[tuple, Notification] = {}
    for notification in notifications:
        events.setdefault(
            (notification.ticket_id, notification.kind, notification.title), notification
        )
    return [
        _webhook_delivery(endpoint, event, now=now)
        for event in events.values()
        for endpoint in endpoints
        if endpoint.accepts(event.kind)
    ]


def _webhook_delivery(
    endpoint: WebhookEndpoint,
    notification: Notification | None,
    *,
    now: datetime,
    payload: dict | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> Delivery:
    if payload is None:
        payload = channels.webhook_payload(
            endpoint_kind=endpoint.kind,
            kind=notification.kind,
            title=notification.title,
            body=notification.body,
            url=notification.url,
            ticket_id=notification.ticket_id,
        )
    return Delivery(
        channel=DeliveryChannel.WEBHOOK,
        notification=notification,
        endpoint=endpoint,
        address=redact_url(endpoint.url),
        payload=payload,
        max_attempts=max_attempts,
        next_attempt_at=now,
        created_at=now,
    )


def deliveries_enqueue(*, delivery_ids: Sequence[int]) -> int:
    """Publish one ``deliver`` task per id; never raises and never blocks for long.

    Runs after commit in the web request. On a broker error it logs a warning and stops: the
    remaining rows stay pending and the outbox sweep enqueues them later. Returns how many
    tasks were published.
    """
    from notifications.tasks import deliver  # tasks import this module

    published = 0
    try:
        with celery_app.connection_for_write(transport_options=PUBLISH_TRANSPORT_OPTIONS) as conn:
            for delivery_id in delivery_ids:
                # retry=False: one bounded attempt; the outbox is the retry.
                deliver.apply_async((delivery_id,), connection=conn, retry=False)
                published += 1
    except Exception as exc:  # any broker/transport error: the sweep will catch up
        logger.warning(
            "notifications: broker unavailable, %d of %d deliveries left for the outbox sweep: %s",
            len(delivery_ids) - published,
            len(delivery_ids),
            exc,
        )
    return published


def _claimable(now: datetime) -> Q:
    under_budget = Q(attempts__lt=F("max_attempts"))
    due = Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now + CLAIM_CLOCK_TOLERANCE)
    abandoned = Q(status=DeliveryStatus.SENDING, claimed_at__lt=now - CLAIM_STALE_AFTER)
    return under_budget & (due | abandoned)


def delivery_send(*, delivery_id: int) -> str | None:
    """Claim one delivery and send it; the body of the ``deliver`` task.

    Idempotent: only a caller whose conditional UPDATE (pending → sending) matched sends; any
    other call — a duplicate message, a second worker, a row not yet due or already sent —
    returns ``None`` without side effects. Must run outside a transaction (network I/O).
    Returns the resulting status.
    """
    claimed_at = timezone.now()
    claimed = (
        Delivery.objects.filter(pk=delivery_id)
        .filter(_claimable(claimed_at))
        .update(status=DeliveryStatus.SENDING, claimed_at=claimed_at, attempts=F("attempts") + 1)
    )
    if not claimed:
        return None
    delivery = Delivery.objects.select_related("endpoint").get(pk=delivery_id)
    try:
        _send(delivery)
    except DeliveryError as exc:
        return _record_failure(delivery, claimed_at=claimed_at, error=exc)
    return _record_outcome(
        delivery,
        claim=claimed_at,
        status=DeliveryStatus.SENT,
        sent_at=timezone.now(),
        last_error="",
    )


def _send(delivery: Delivery) -> None:
    payload = delivery.payload
    if delivery.channel == DeliveryChannel.EMAIL:
        channels.email_send(
            address=delivery.address, subject=payload["subject"], body=payload["body"]
        )
        return
    endpoint = delivery.endpoint
    if endpoint is None or not endpoint.is_active:
        raise DeliveryError("webhook endpoint removed or disabled", permanent=True)
    channels.webhook_post(
        endpoint_kind=endpoint.kind, url=endpoint.url, secret=endpoint.secret, payload=payload
    )


def _record_failure(delivery: Delivery, *, claimed_at: datetime, error: DeliveryError) -> str:
    now = timezone.now()
    if error.permanent or delivery.attempts >= delivery.max_attempts:
        logger.warning("notifications: delivery %s failed for good: %s", delivery.pk, error)
        return _record_outcome(
            delivery, claim=claimed_at, status=DeliveryStatus.FAILED, last_error=str(error)
        )
    delay = BACKOFF_BASE * 2 ** (delivery.attempts - 1)
    logger.info(
        "notifications: delivery %s attempt %s failed: %s", delivery.pk, delivery.attempts, error
    )
    return _record_outcome(
        delivery,
        claim=claimed_at,
        status=DeliveryStatus.PENDING,
        next_attempt_at=now + delay,
        claimed_at=None,
        last_error=str(error),
    )


def _record_outcome(delivery: Delivery, *, claim: datetime, status: str, **fields) -> str:
    # Only the holder of the claim records the outcome: if this worker was so slow that its
    # claim went stale and another worker took the row over, the newer claim wins.
    updated = Delivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.SENDING, claimed_at=claim
    ).update(status=status, **fields)
    if not updated:
        logger.warning(
            "notifications: delivery %s claim was taken over; outcome dropped", delivery.pk
        )
    return status


def deliveries_sweep(*, now: datetime) -> int:
    """The outbox sweep (Celery beat): enqueue every delivery that is due; returns the count.

    Also closes claims abandoned on their last attempt (the worker died each time), so no row
    stays "sending" forever. Safe to run concurrently: enqueued tasks claim before sending.
    """
    Delivery.objects.filter(
        status=DeliveryStatus.SENDING,
        claimed_at__lt=now - CLAIM_STALE_AFTER,
        attempts__gte=F("max_attempts"),
    ).update(status=DeliveryStatus.FAILED, last_error="worker lost during the last attempt")
    delivery_ids = selectors.deliveries_due(
        now=now,
        first_attempt_grace=FIRST_ATTEMPT_GRACE,
        stale_after=CLAIM_STALE_AFTER,
        limit=SWEEP_BATCH_SIZE,
    )
    if not delivery_ids:
        return 0
    return deliveries_enqueue(delivery_ids=delivery_ids)


def deliveries_requeue(*, delivery_ids: Sequence[int]) -> int:
    """Give failed deliveries a fresh retry budget (admin action); the sweep sends them."""
    now = timezone.now()
    return Delivery.objects.filter(pk__in=delivery_ids, status=DeliveryStatus.FAILED).update(
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=now - FIRST_ATTEMPT_GRACE,
        claimed_at=None,
    )


def webhook_endpoints_test(*, endpoints: Sequence[WebhookEndpoint]) -> list[Delivery]:
    """Send one test message to each endpoint now and return the recorded deliveries.

    For the admin's "send test message" action: goes through the same claim-and-send path as
    real notifications (and is logged as a delivery), but with a single attempt so that a test
    against a wrong URL is not retried for half an hour. Call outside a transaction.
    """
    now = timezone.now()
    title = _("Opsdesk 测试消息")
    body = _("如果您在群里看到这条消息，说明机器人配置正确。")
    deliveries = [
        _webhook_delivery(
            endpoint,
            None,
            now=now,
            payload=channels.webhook_payload(
                endpoint_kind=endpoint.kind,
                kind=NotificationKind.TEST,
                title=str(title),
                body=str(body),
                url="",
                ticket_id=None,
            ),
            max_attempts=1,
        )
        for endpoint in endpoints
    ]
    Delivery.objects.bulk_create(deliveries)
    for delivery in deliveries:
        delivery_send(delivery_id=delivery.pk)
    return list(Delivery.objects.filter(pk__in=[d.pk for d in deliveries]).order_by("id"))


def notification_mark_read(*, user, notification_id: int) -> Notification:
    """Mark one of ``user``'s notifications read (idempotent); another user's is NotFound."""
    notification = Notification.objects.filter(pk=notification_id, recipient=user).first()
    if notification is None:
        raise NotFound(_("通知不存在。"))
    if notification.read_at is None:
        now = timezone.now()
        # Conditional: a concurrent "mark all read" keeps its earlier timestamp.
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=now)
        notification.read_at = now
    return notification


def notifications_mark_all_read(*, user) -> int:
    """Mark every unread notification of ``user`` read; returns how many changed."""
    return Notification.objects.for_recipient(user).unread().update(read_at=timezone.now())


@dataclass(frozen=True)
class PurgeResult:
    notifications: int
    deliveries: int


def notifications_purge(*, now: datetime) -> PurgeResult:
    """Delete what is past retention at ``now``; the body of the nightly ``purge_old`` task.

    - Finished deliveries (sent, or failed for good) created more than
      ``OPSDESK_NOTIFICATION_RETENTION_DAYS`` ago. Pending and sending ones are never deleted.
    - Notifications read more than ``OPSDESK_NOTIFICATION_RETENTION_DAYS`` ago, and any, read
      or not, created more than ``OPSDESK_NOTIFICATION_MAX_AGE_DAYS`` ago, together with their
      finished deliveries. One that still has an unfinished delivery is kept until a later run.

    Deletes at most ``PURGE_BATCH_SIZE`` rows per statement, each batch in its own transaction,
    walking ids upwards so that rows it keeps are not read again. Call it outside a transaction
    (inside one, the batches would share it and hold their locks to the end). Idempotent: a
    second run at the same ``now`` deletes nothing. Raises ``ImproperlyConfigured`` when a
    retention setting is below one day. Returns the numbers of rows deleted.
    """
    read_days = settings.OPSDESK_NOTIFICATION_RETENTION_DAYS
    max_age_days = settings.OPSDESK_NOTIFICATION_MAX_AGE_DAYS
    if read_days < 1 or max_age_days < 1:
        # 0 or a negative value would delete notifications read a moment ago (or all of them).
        raise ImproperlyConfigured(
            "OPSDESK_NOTIFICATION_RETENTION_DAYS and OPSDESK_NOTIFICATION_MAX_AGE_DAYS must be"
            f" at least 1 (got {read_days} and {max_age_days})."
        )
    read_before = now - timedelta(days=read_days)
    deliveries = _purge_deliveries(created_before=read_before)
    notifications, cascaded = _purge_notifications(
        read_before=read_before, created_before=now - timedelta(days=max_age_days)
    )
    result = PurgeResult(notifications=notifications, deliveries=deliveries + cascaded)
    logger.info(
        "notifications: purged %d notifications and %d deliveries past retention",
        result.notifications,
        result.deliveries,
    )
    return result


def _purge_deliveries(*, created_before: datetime) -> int:
    deleted, after_id = 0, 0
    while ids := selectors.deliveries_expired_ids(
        created_before=created_before, after_id=after_id, limit=PURGE_BATCH_SIZE
    ):
        with transaction.atomic():
            # finished() again: an admin may have requeued a failed one since it was selected.
            # Nothing refers to a delivery, so this is a single DELETE (no cascade collector).
            deleted += Delivery.objects.filter(pk__in=ids).finished().delete()[0]
        if len(ids) < PURGE_BATCH_SIZE:
            break
        after_id = ids[-1]
    return deleted


def _purge_notifications(*, read_before: datetime, created_before: datetime) -> tuple[int, int]:
    """Returns (notifications, deliveries) deleted."""
    notifications = deliveries = 0
    after_id = 0
    using = router.db_for_write(Notification)
    while ids := selectors.notifications_expired_ids(
        read_before=read_before,
        created_before=created_before,
        after_id=after_id,
        limit=PURGE_BATCH_SIZE,
    ):
        with transaction.atomic(using=using):
            deliveries += Delivery.objects.filter(notification_id__in=ids).finished().delete()[0]
            # A raw DELETE, not QuerySet.delete(): for the CASCADE from Delivery, Django's
            # collector would load every row and delete them 100 ids per statement. Deleting
            # only notifications left without any delivery keeps the foreign key intact: one
            # whose delivery an admin requeued after the selection still has it, and stays.
            notifications += (
                Notification.objects.filter(pk__in=ids)
                .filter(~Exists(Delivery.objects.filter(notification=OuterRef("pk"))))
                ._raw_delete(using)
            )
        if len(ids) < PURGE_BATCH_SIZE:
            break
        after_id = ids[-1]
    return notifications, deliveries
