"""Escalation (升级): scheduling levels per ticket clock, and the sweep that fires them.

One ``EscalationSchedule`` row per (ticket, metric, rule, dispatch) holds the instant the level
is due. ``escalation_sweep`` (Celery beat, every minute) claims every due row with a plain
conditional UPDATE and inserts the notifications in the same transaction, so each level fires
exactly once: a concurrent sweep re-checks ``fired_at`` after waiting for the rows and skips
them; a sweep that dies rolls back and the next one claims its rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection, transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from directory.models import User
from directory.roles import Role
from notifications.services import NotificationDraft, notifications_create_bulk, ticket_url
from sla import selectors
from sla.models import EscalationRule, EscalationSchedule, Metric, Recipient
from sla.selectors import RuleInfo, SlaConfig, sla_config
from sla.services.clocks import Clock, resolution_clock, response_clock, vendor_clock
from tickets.models import OPEN_STATUSES, Ticket, TicketDispatch

# Due escalation levels claimed (and notified) per transaction by the sweep, about: ties on
# the boundary due time go into the same batch. Large on purpose — only samples of each
# recipient group reach Python — and a bound on the transaction after a long outage.
SWEEP_BATCH_SIZE = 100_000
# SQLite (development) ships every claimed row to Python: keep its batches small.
PORTABLE_BATCH_SIZE = 5_000
# Memory for grouping one batch on PostgreSQL (set for the batch's transaction only).
SWEEP_WORK_MEM = "64MB"
# More levels than this for one recipient in one batch become one digest notification.
DIGEST_AFTER = 10
# Tickets named in a digest's body.
DIGEST_LISTED = 50


def cancel_levels(ticket: Ticket, *, metrics: Iterable[str]) -> set[tuple[str, int, int | None]]:
    """Drop the levels of decided clocks that have not fired; fired rows stay as history.

    Levels a sweep is claiming right now are skipped, not waited for: they were due, so they
    fire. Waiting would be a deadlock — the sweep's commit checks its notifications' foreign
    key against the ticket row this transaction holds locked. Returns the (metric, rule,
    dispatch) keys of those skipped levels.
    """
    unfired = EscalationSchedule.objects.filter(
        ticket=ticket, metric__in=list(metrics), fired_at__isnull=True
    )
    free = list(unfired.select_for_update(skip_locked=True).values_list("pk", flat=True))
    if free:
        EscalationSchedule.objects.filter(pk__in=free).delete()
    return set(unfired.exclude(pk__in=free).values_list("metric", "rule_id", "dispatch_id"))


def schedule_levels(
    ticket: Ticket,
    config: SlaConfig,
    *,
    metrics: Sequence[str],
    now: datetime,
    dispatch: TicketDispatch | None = None,
    replace: bool = False,
) -> None:
    """(Re)build the unfired escalation levels of ``metrics`` and fire those already due.

    ``replace`` first deletes the unfired levels (a deadline moved); levels that already
    fired are kept and, thanks to the unique key, never inserted again.
    """
    firing = cancel_levels(ticket, metrics=metrics) if replace else set()
    rows = level_rows(ticket, config, metrics=metrics, dispatch=dispatch)
    # A level being fired by a sweep right now must not be re-inserted: the INSERT would wait
    # for the sweep, which waits for this transaction's ticket lock.
    rows = [row for row in rows if (row.metric, row.rule_id, row.dispatch_id) not in firing]
    if not rows:
        return
    # ignore_conflicts: a level that already fired keeps its row and is not re-inserted.
    EscalationSchedule.objects.bulk_create(rows, ignore_conflicts=True)
    fire_due_levels(ticket, rows, now=now)


def level_rows(
    ticket: Ticket,
    config: SlaConfig,
    *,
    metrics: Sequence[str],
    dispatch: TicketDispatch | None = None,
) -> list[EscalationSchedule]:
    """The escalation levels of ``metrics`` for the ticket's running clocks, as unsaved rows.

    Reads nothing from the database. ``ticket_id`` is the ticket's primary key, None for a
    ticket not inserted yet.
    """
    rows: list[EscalationSchedule] = []
    kind, grade = ticket.kind, ticket.grade
    is_open = ticket.status in OPEN_STATUSES
    if Metric.RESPONSE in metrics and is_open and ticket.responded_at is None:
        clock = response_clock(ticket, config)
        if clock is not None:
            rules = config.rules_for(metric=Metric.RESPONSE, kind=kind, grade=grade)
            rows += _rows(ticket, clock, rules)
    if Metric.RESOLUTION in metrics and is_open:
        clock = resolution_clock(ticket, config)
        if clock is not None:
            rules = config.rules_for(metric=Metric.RESOLUTION, kind=kind, grade=grade)
            rows += _rows(ticket, clock, rules, suspended=ticket.paused_at is not None)
    if (
        Metric.VENDOR_RESPONSE in metrics
        and is_open
        and dispatch is not None
        and dispatch.ended_at is None
        and dispatch.accepted_at is None
    ):
        clock = vendor_clock(ticket, dispatch, config)
        if clock is not None:
            rules = config.rules_for(metric=Metric.VENDOR_RESPONSE, kind=kind, grade=grade)
            rows += _rows(ticket, clock, rules, dispatch=dispatch)
    return rows


def fire_due_levels(ticket: Ticket, rows: Iterable[EscalationSchedule], *, now: datetime) -> None:
    """Fire the ticket's levels at once if any of the just inserted ``rows`` is already due."""
    if any(row.due_at is not None and row.due_at <= now for row in rows):
        fire_ticket_levels(ticket_id=ticket.pk, now=now)


def _rows(
    ticket: Ticket,
    clock: Clock,
    rules: Iterable[RuleInfo],
    *,
    dispatch: TicketDispatch | None = None,
    suspended: bool = False,
) -> list[EscalationSchedule]:
    return [
        EscalationSchedule(
            ticket_id=ticket.pk,
            metric=clock.metric,
            rule_id=rule.id,
            dispatch_id=dispatch.pk if dispatch is not None else None,
            due_at=None if suspended else clock.due_at(rule.fraction),
        )
        for rule in rules
    ]


# ---------------------------------------------------------------------------------------------
# The escalation sweep


def escalation_sweep(*, now: datetime) -> int:
    """Fire every escalation level due at ``now``; returns how many levels fired.

    Set-based: one conditional UPDATE claims every due level through the partial index (up
    to ``SWEEP_BATCH_SIZE`` per transaction), groups the claimed levels by recipients in the
    same statement and returns a sample of each group; recipients are resolved with one query
    and the notifications inserted with one bulk insert, in the same transaction.

    Exactly once: the UPDATE only takes rows whose ``fired_at`` is still NULL, re-checked after
    any row lock it waited for — a second sweep running at the same time (two beats, a
    redelivered task) finds them fired and skips them. A sweep that dies mid-run rolls back and
    its levels are claimed by the next sweep. Call it outside a transaction: each batch
    commits on its own.
    """
    fired = 0
    while True:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                claimed, more = _claim_postgresql(now=now, ticket_id=None)
            else:
                claimed, more = _claim_portable(now=now, ticket_id=None)
            fired += _fire(claimed)
        if not more:
            return fired


@dataclass(frozen=True, slots=True)
class _Fired:
    """A fired level with what its notifications need.

    ``group`` is the set of levels of the batch that have the same rule and the same
    ticket-derived recipients (engineer, desk owner, vendor): the database returns at most
    ``DIGEST_LISTED`` of them, each carrying the group's full size.
    """

    ticket_id: int
    metric: str
    rule_id: int
    number: str
    title: str
    engineer_id: int | None
    owner_id: int | None
    vendor_id: int | None
    grade: int | None
    due_epoch: float | None
    group_size: int

    @property
    def group(self) -> tuple[int, int | None, int | None, int | None]:
        return (self.rule_id, self.engineer_id, self.owner_id, self.vendor_id)

    @property
    def due_at(self) -> datetime | None:
        if self.due_epoch is None:
            return None
        return datetime.fromtimestamp(self.due_epoch, tz=UTC)


# A claimed sample row: ticket_id, rule_id, number, title, engineer_id, owner_id, vendor_id,
# grade, then the epochs of response_due, resolution_due and the dispatch's response_due,
# and the group size.
_Claimed = tuple


def fire_ticket_levels(*, ticket_id: int, now: datetime) -> int:
    """Fire the due levels of one ticket inside the ticket's transaction (e.g. on creation)."""
    if connection.vendor == "postgresql":
        claimed, _more = _claim_postgresql(now=now, ticket_id=ticket_id)
    else:
        claimed, _more = _claim_portable(now=now, ticket_id=ticket_id)
    return _fire(claimed)


def _fire(claimed: list[_Claimed]) -> int:
    """Notify the recipients of claimed levels; returns how many levels were claimed."""
    if not claimed:
        return 0
    rules = _rules({row[1] for row in claimed})
    due_column = {Metric.RESPONSE: 8, Metric.RESOLUTION: 9, Metric.VENDOR_RESPONSE: 10}
    fired = []
    for row in claimed:
        metric = rules[row[1]].metric
        fired.append(_Fired(row[0], metric, *row[1:8], row[due_column[metric]], row[11]))
    _notify(fired, rules)
    return sum({row.group: row.group_size for row in fired}.values())


def _claim_postgresql(*, now: datetime, ticket_id: int | None) -> tuple[list[_Claimed], bool]:
    """One statement: claim due levels, group them by recipients, return samples of each.

    A mass event (100k tickets late at once) is mostly a few recipients with many tickets
    each, so the groups are counted and trimmed in SQL rather than shipped to Python. Returns
    the samples and whether more levels are due than this batch took.
    """
    schedule = EscalationSchedule._meta.db_table
    tickets = Ticket._meta.db_table
    dispatches = TicketDispatch._meta.db_table
    more = False
    if ticket_id is None:
        # The sweep: a plain UPDATE, so that a mass event costs about what the bare
        # "UPDATE … WHERE due_at < now()" costs. The batch ends at the due time of the level
        # after the first SWEEP_BATCH_SIZE (ties join the batch); passing that instant as a
        # value, not a subquery, lets the planner estimate the batch from the statistics.
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT due_at FROM {schedule} WHERE fired_at IS NULL AND due_at <= %s "
                "ORDER BY due_at OFFSET %s LIMIT 1",
                [now, SWEEP_BATCH_SIZE],
            )
            bound = cursor.fetchone()
        more = bound is not None
        params: list = [now, bound[0] if more else now]
        claim = f"""
            claimed AS (
                UPDATE {schedule} SET fired_at = %s
                WHERE fired_at IS NULL AND due_at <= %s
                RETURNING ticket_id, rule_id, dispatch_id
            )"""
    else:
        # Inside a ticket's transaction: skip (never wait for) levels a sweep is firing.
        params = [now, ticket_id, now]
        claim = f"""
            claimed AS (
                UPDATE {schedule} SET fired_at = %s
                WHERE id IN (
                    SELECT id FROM {schedule}
                    WHERE ticket_id = %s AND fired_at IS NULL AND due_at <= %s
                    FOR UPDATE SKIP LOCKED
                )
                RETURNING ticket_id, rule_id, dispatch_id
            )"""
    sql = f"""
        WITH {claim},
        grouped AS (
            SELECT c.rule_id, t.engineer_id, t.owner_id,
                   COALESCE(d.vendor_id, t.vendor_id) AS vendor_id, count(*) AS size,
                   -- Unordered, so a hash aggregate; both arrays follow the same row order.
                   (array_agg(c.ticket_id))[1:{DIGEST_LISTED}] AS ticket_ids,
                   (array_agg(c.dispatch_id))[1:{DIGEST_LISTED}] AS dispatch_ids
            FROM claimed c
            JOIN {tickets} t ON t.id = c.ticket_id
            LEFT JOIN {dispatches} d ON d.id = c.dispatch_id
            GROUP BY 1, 2, 3, 4
        )
        -- Epoch seconds: floats load far faster than timestamps, and only per-ticket
        -- notifications (not digests) ever format them.
        SELECT s.ticket_id, g.rule_id, t.number, t.title, g.engineer_id, g.owner_id,
               g.vendor_id, t.grade, EXTRACT(EPOCH FROM t.response_due)::float8,
               EXTRACT(EPOCH FROM t.resolution_due)::float8,
               EXTRACT(EPOCH FROM (SELECT d.response_due FROM {dispatches} d
                                   WHERE d.id = s.dispatch_id))::float8,
               g.size
        FROM grouped g
        CROSS JOIN LATERAL unnest(g.ticket_ids, g.dispatch_ids) AS s(ticket_id, dispatch_id)
        -- OFFSET 0 keeps this a per-sample index lookup: the planner cannot see that only a
        -- few samples survive the grouping and would otherwise hash the whole ticket table.
        CROSS JOIN LATERAL (
            SELECT number, title, grade, response_due, resolution_due
            FROM {tickets} WHERE id = s.ticket_id OFFSET 0
        ) t
    """
    with connection.cursor() as cursor:
        if ticket_id is None:
            # For this transaction only: group a large batch in memory, not in a sort on disk,
            # and skip JIT — the planner cannot know how few samples survive the grouping,
            # overestimates the statement and would spend a second compiling it.
            cursor.execute(
                "SELECT set_config('work_mem', %s, true), set_config('jit', 'off', true)",
                [SWEEP_WORK_MEM],
            )
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    # A bound with nothing claimed: another sweep fired them meanwhile; stop rather than spin.
    return rows, more and bool(rows)


def _claim_portable(*, now: datetime, ticket_id: int | None) -> tuple[list[_Claimed], bool]:
    """The same claim for SQLite (development), whose writers are serialised anyway."""
    schedule = EscalationSchedule._meta.db_table
    only_ticket = "AND ticket_id = %s" if ticket_id is not None else ""
    adapt = connection.ops.adapt_datetimefield_value
    limit = PORTABLE_BATCH_SIZE
    params = [adapt(now), adapt(now), *([ticket_id] if ticket_id is not None else []), limit]
    sql = f"""
        UPDATE {schedule} SET fired_at = %s
        WHERE id IN (
            SELECT id FROM {schedule}
            WHERE fired_at IS NULL AND due_at <= %s {only_ticket}
            ORDER BY due_at LIMIT %s
        )
        RETURNING id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = [row[0] for row in cursor.fetchall()]
    if not ids:
        return [], False
    rows = (
        EscalationSchedule.objects.filter(pk__in=ids)
        .order_by("ticket_id")
        .values_list(
            "ticket_id",
            "rule_id",
            "ticket__number",
            "ticket__title",
            "ticket__engineer_id",
            "ticket__owner_id",
            Coalesce("dispatch__vendor_id", "ticket__vendor_id"),
            "ticket__grade",
            "ticket__response_due",
            "ticket__resolution_due",
            "dispatch__response_due",
        )
    )
    groups: dict[tuple, list[tuple]] = defaultdict(list)
    for row in rows:
        epochs = tuple(due.timestamp() if due is not None else None for due in row[8:11])
        groups[(row[1], row[4], row[5], row[6])].append((*row[:8], *epochs))
    claimed = [
        (*row, len(members)) for members in groups.values() for row in members[:DIGEST_LISTED]
    ]
    return claimed, len(ids) == limit


def _notify(fired: list[_Fired], rules: dict[int, RuleInfo]) -> int:
    """Insert the notifications of fired levels; recipients are resolved in one query.

    Normally one notification per ticket and recipient. When one sweep batch brings a
    recipient more than ``DIGEST_AFTER`` tickets of the same level (a mass event: a dead
    worker catching up, a network outage that makes every ticket late) they get one digest
    listing the tickets instead: a hundred e-mails or robot posts would bury the one that
    matters, and group robots rate-limit anyway.
    """
    wanted = {recipient for row in fired for recipient in rules[row.rule_id].recipients}
    vendor_ids = {row.vendor_id for row in fired if row.vendor_id is not None}
    by_role, managers = _role_recipients(wanted, vendor_ids)

    # Per recipient and rule: the sampled levels, and the size of every group they came from.
    levels: dict[tuple[int, int], list[_Fired]] = defaultdict(list)
    sizes: dict[tuple[int, int], dict[tuple, int]] = defaultdict(dict)
    for row in fired:
        for user_id in _recipients_of(row, rules[row.rule_id], by_role, managers):
            levels[(user_id, row.rule_id)].append(row)
            sizes[(user_id, row.rule_id)][row.group] = row.group_size

    # reverse() and gettext once per batch, not per row.
    marker = 987654321
    url_pattern = ticket_url(marker).replace(str(marker), "{}")
    texts = _Texts()
    drafts = []
    for (user_id, rule_id), rows in levels.items():
        rule = rules[rule_id]
        count = sum(sizes[(user_id, rule_id)].values())
        if count > DIGEST_AFTER:
            title, body = texts.digest(rule, rows, count)
            drafts.append(
                NotificationDraft(
                    recipient_id=user_id,
                    ticket_id=None,
                    kind=texts.kind(rule, rows[0]),
                    title=title,
                    body=body,
                    url=texts.list_url,
                )
            )
            continue
        # count ≤ DIGEST_AFTER ≤ DIGEST_LISTED: every level of these groups was returned.
        for row in rows:
            title, body = texts.single(rule, row)
            drafts.append(
                NotificationDraft(
                    recipient_id=user_id,
                    ticket_id=row.ticket_id,
                    kind=texts.kind(rule, row),
                    title=title,
                    body=body,
                    url=url_pattern.format(row.ticket_id),
                )
            )
    return notifications_create_bulk(rows=drafts)


def _recipients_of(
    row: _Fired,
    rule: RuleInfo,
    by_role: dict[str, list[int]],
    managers: dict[int, list[int]],
) -> set[int]:
    users: set[int] = set()
    for recipient in rule.recipients:
        if recipient == Recipient.ENGINEER:
            if row.engineer_id:
                users.add(row.engineer_id)
        elif recipient == Recipient.VENDOR_MANAGER:
            users.update(managers.get(row.vendor_id, ()))
        elif recipient == Recipient.DESK:
            # The ticket's desk owner; a ticket logged by a requester goes to the whole desk.
            users.update([row.owner_id] if row.owner_id else by_role[Role.DESK_AGENT])
        else:
            users.update(by_role[recipient])
    return users


def _rules(rule_ids: set[int]) -> dict[int, RuleInfo]:
    known = sla_config().rules_by_id
    rules = {rule_id: known[rule_id] for rule_id in rule_ids if rule_id in known}
    missing = rule_ids - set(rules)
    if missing:  # created or deactivated in another process since our snapshot
        rows = EscalationRule.objects.filter(pk__in=missing)
        rules |= {row.pk: selectors.rule_info(row) for row in rows}
    return rules


def _role_recipients(
    wanted: set[str], vendor_ids: set[int]
) -> tuple[dict[str, list[int]], dict[int, list[int]]]:
    """Active users by role, and vendor managers by vendor, in a single query."""
    by_role: dict[str, list[int]] = defaultdict(list)
    managers: dict[int, list[int]] = defaultdict(list)
    roles = {Recipient.DESK_SUPERVISOR, Recipient.CENTRE_LEADER} & wanted
    if Recipient.DESK in wanted:
        roles.add(Role.DESK_AGENT)
    want_managers = Recipient.VENDOR_MANAGER in wanted and bool(vendor_ids)
    if not roles and not want_managers:
        return by_role, managers
    condition = Q(groups__name__in=sorted(roles)) if roles else Q(pk__in=[])
    if want_managers:
        condition |= Q(groups__name=Role.VENDOR_MANAGER, vendor_id__in=sorted(vendor_ids))
    users = User.objects.filter(condition, is_active=True).values_list(
        "pk", "vendor_id", "groups__name"
    )
    for user_id, vendor_id, role in users.order_by("pk"):
        if role == Role.VENDOR_MANAGER:
            if vendor_id in vendor_ids:
                managers[vendor_id].append(user_id)
        else:
            by_role[role].append(user_id)
    return by_role, managers


class _Texts:
    """Notification texts, translated once per sweep batch."""

    def __init__(self) -> None:
        self.metrics = {metric.value: str(metric.label) for metric in Metric}
        self.created_grade1 = _("【一级故障】%(number)s %(title)s")
        self.created = _("【新工单】%(number)s %(title)s")
        self.warning = _("【SLA预警】%(number)s %(metric)s时限已过 %(percent)s%%")
        self.breach = _("【SLA超时】%(number)s 已超过%(metric)s时限")
        self.body = _("%(title)s\n%(metric)s时限：%(due)s")
        self.digest_warning = _("【SLA预警】%(count)s 张工单%(metric)s时限已过 %(percent)s%%")
        self.digest_breach = _("【SLA超时】%(count)s 张工单已超过%(metric)s时限")
        self.digest_created = _("【新工单】%(count)s 张")
        self.digest_more = _("等 %(count)s 张工单")
        try:
            self.list_url = reverse("tickets:list")
        except NoReverseMatch:
            self.list_url = ticket_url(0).rsplit("/0/", 1)[0] + "/"

    @staticmethod
    def kind(rule: RuleInfo, row: _Fired) -> str:
        return "grade1_created" if rule.fraction == 0 and row.grade == 1 else "escalation"

    def _values(self, rule: RuleInfo) -> dict[str, str]:
        return {"metric": self.metrics[rule.metric], "percent": f"{rule.fraction * 100:g}"}

    def single(self, rule: RuleInfo, row: _Fired) -> tuple[str, str]:
        values = {**self._values(rule), "number": row.number, "title": row.title}
        if rule.fraction == 0:
            title = self.created_grade1 if row.grade == 1 else self.created
        else:
            title = self.warning if rule.fraction < 1 else self.breach
        body = row.title
        if row.due_at is not None:
            due = timezone.localtime(row.due_at).strftime("%Y-%m-%d %H:%M")
            body = self.body % {**values, "due": due}
        return title % values, body

    def digest(self, rule: RuleInfo, rows: list[_Fired], count: int) -> tuple[str, str]:
        values = {**self._values(rule), "count": count}
        if rule.fraction == 0:
            title = self.digest_created
        else:
            title = self.digest_warning if rule.fraction < 1 else self.digest_breach
        shown = [f"{row.number} {row.title}" for row in rows[:DIGEST_LISTED]]
        if count > len(shown):
            shown.append(self.digest_more % {"count": count})
        return title % values, "\n".join(shown)
