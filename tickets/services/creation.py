"""Creating a ticket: input validation, its number, and the one-statement insert on PostgreSQL."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Field
from django.utils import timezone
from django.utils.translation import gettext as _

from directory.models import BusinessSystem, User
from opsdesk import clock
from opsdesk.errors import NotPermitted, ValidationFailed
from sla import services as sla
from sla.models import EscalationSchedule
from tickets import access
from tickets.events import event_record
from tickets.models import (
    NUMBER_PREFIX,
    Category,
    EventAction,
    Kind,
    Tag,
    Ticket,
    TicketCounter,
    TicketEvent,
)


@dataclass
class TicketInput:
    """What a client supplies to create a ticket; validated by ``ticket_create``."""

    title: str
    kind: str = Kind.INCIDENT
    channel: str = "web"
    description: str = ""
    grade: int | None = None
    system: BusinessSystem | None = None
    category: Category | None = None
    requester: User | None = None
    requester_name: str = ""
    requester_department: str = ""
    requester_phone: str = ""
    requester_email: str = ""
    reported_at: datetime | None = None
    resolution_due: datetime | None = None  # tasks only: the due date the desk sets
    tags: list[str] = field(default_factory=list)


def _validate_input(data: TicketInput, *, now: datetime) -> None:
    if not (data.title or "").strip():
        raise ValidationFailed(_("标题不能为空。"), field="title")
    if data.kind not in Kind.values:
        raise ValidationFailed(_("未知的工单类型。"), field="kind")
    if data.kind == Kind.INCIDENT and data.grade not in (1, 2, 3):
        raise ValidationFailed(_("故障工单必须指定 1–3 级。"), field="grade")
    if data.kind != Kind.INCIDENT and data.grade is not None:
        raise ValidationFailed(_("只有故障工单有级别。"), field="grade")
    if data.reported_at is not None:
        if timezone.is_naive(data.reported_at):
            raise ValidationFailed(_("报障时间必须带时区。"), field="reported_at")
        # A minute of slack for clients whose clocks run slightly ahead.
        if data.reported_at > now + timedelta(minutes=1):
            raise ValidationFailed(_("报障时间不能晚于当前时间。"), field="reported_at")
    if data.kind == Kind.TASK and data.resolution_due is not None and data.resolution_due <= now:
        raise ValidationFailed(_("督办期限必须晚于当前时间。"), field="resolution_due")
    if data.system is not None and not data.system.is_active:
        raise ValidationFailed(_("该业务系统已停用。"), field="system")


def _number_scope(kind: str, reported_at: datetime) -> str:
    """``INC-2026``: the counter of a ticket's number (its kind, the local year it was reported)."""
    return f"{NUMBER_PREFIX[Kind(kind)]}-{timezone.localtime(reported_at).year}"


def _next_number(scope: str) -> str:
    """Issue the next ``INC-2026-000123`` with one upsert; the row lock orders concurrent calls."""
    table = connection.ops.quote_name(TicketCounter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (scope, value) VALUES (%s, 1) "
            f"ON CONFLICT (scope) DO UPDATE SET value = {table}.value + 1 RETURNING value",
            [scope],
        )
        (value,) = cursor.fetchone()
    return f"{scope}-{value:06d}"


def _insert_new_ticket(
    ticket: Ticket, *, scope: str, actor, at: datetime, levels: list[EscalationSchedule]
) -> None:
    """INSERT a new ticket with its number, its ``created`` event and its escalation levels.

    The number comes from the counter row of ``scope``, whose lock is held until commit:
    concurrent creates are numbered in commit order and a rolled-back create takes its number
    back, so committed numbers have no gaps. One statement on PostgreSQL, four elsewhere
    (SQLite in development); both leave the same rows and the same instance.
    """
    if connection.vendor == "postgresql":
        _insert_new_ticket_postgresql(ticket, scope=scope, actor=actor, at=at, levels=levels)
    else:
        _insert_new_ticket_portable(ticket, scope=scope, actor=actor, at=at, levels=levels)


def _insert_new_ticket_portable(
    ticket: Ticket, *, scope: str, actor, at: datetime, levels: list[EscalationSchedule]
) -> None:
    ticket.number = _next_number(scope)
    ticket.search_text = ticket.build_search_text()
    ticket.save(force_insert=True)
    event_record(ticket=ticket, actor=actor, action=EventAction.CREATED, at=at)
    for level in levels:
        level.ticket = ticket
    EscalationSchedule.objects.bulk_create(levels)


def _insert_new_ticket_postgresql(
    ticket: Ticket, *, scope: str, actor, at: datetime, levels: list[EscalationSchedule]
) -> None:
    """``_insert_new_ticket`` in one statement: three round trips and three ORM inserts less.

    Data-modifying CTEs upsert the counter, insert the ticket with its number, the ``created``
    event as ``event_record`` writes it and the escalation levels. ``search_text`` starts with
    the number, which only the database knows: the rest is built here (``build_search_text``
    skips the still empty number) and the database puts the number in front, joined by a
    newline. Like ``save()`` it fills the primary key, ``created_at``/``updated_at`` and the
    instance state; unlike it, it sends no model signals (nothing listens to a ticket's).
    """
    sql, fields = _new_ticket_sql()
    ticket.number = ""
    values = [f.get_db_prep_save(f.pre_save(ticket, True), connection) for f in fields]
    actor_id = actor.pk if getattr(actor, "pk", None) else None
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                scope,
                ticket.build_search_text(),
                *values,
                actor_id,
                EventAction.CREATED,
                at,
                [level.metric for level in levels],
                [level.rule_id for level in levels],
                [level.due_at for level in levels],
            ],
        )
        ticket.pk, ticket.number = cursor.fetchone()
    ticket.search_text = ticket.build_search_text()
    # What Model.save() leaves behind: the instance now stands for a row in this database.
    ticket._state.adding = False
    ticket._state.db = connection.alias
    for level in levels:
        level.ticket = ticket


@functools.cache
def _new_ticket_sql() -> tuple[str, tuple[Field, ...]]:
    """The statement of ``_insert_new_ticket_postgresql`` and the ticket fields it binds.

    Built from the models' metadata once per process: a new ticket column needs no SQL here.
    """
    qn = connection.ops.quote_name
    fields = tuple(
        f
        for f in Ticket._meta.local_concrete_fields
        if not (f.primary_key or f.generated or f.name in ("number", "search_text"))
    )
    sql = f"""
        WITH issued AS (
            INSERT INTO {qn(TicketCounter._meta.db_table)} AS counter (scope, value)
            VALUES (%s, 1)
            ON CONFLICT (scope) DO UPDATE SET value = counter.value + 1
            -- As _next_number writes it: at least six digits, and never cut short.
            RETURNING scope || '-' || lpad(value::text, greatest(length(value::text), 6), '0')
                AS number
        ),
        ticket AS (
            INSERT INTO {qn(Ticket._meta.db_table)} (
                number, search_text, {", ".join(qn(f.column) for f in fields)}
            )
            VALUES (
                (SELECT number FROM issued),
                concat_ws(chr(10), (SELECT number FROM issued), NULLIF(%s, '')),
                {", ".join(["%s"] * len(fields))}
            )
            RETURNING id, number
        ),
        created AS (
            INSERT INTO {qn(TicketEvent._meta.db_table)}
                (ticket_id, actor_id, action, at, from_status, to_status, changes, note)
            VALUES ((SELECT id FROM ticket), %s, %s, %s, '', '', '{{}}', '')
        ),
        levels AS (
            -- A new ticket's levels belong to no dispatch and have not fired.
            INSERT INTO {qn(EscalationSchedule._meta.db_table)} (ticket_id, metric, rule_id, due_at)
            SELECT ticket.id, level.metric, level.rule_id, level.due_at
            FROM ticket, unnest(%s::varchar[], %s::bigint[], %s::timestamptz[])
                AS level (metric, rule_id, due_at)
        )
        SELECT id, number FROM ticket
    """
    return sql, fields


@transaction.atomic
def ticket_create(*, actor, data: TicketInput) -> Ticket:
    """Log a new ticket with its SLA deadlines.

    Desk staff log any ticket; requesters log their own (the requester is forced to them);
    monitoring/API clients use desk accounts. Side effects: an event, SLA clocks, grade-1 alerts.
    """
    now = clock.now()
    if not (access.roles.is_desk(actor) or access.roles.is_requester(actor)):
        raise NotPermitted(_("您无权创建工单。"))
    _validate_input(data, now=now)
    requester = data.requester
    if access.roles.is_requester(actor) and not access.roles.is_desk(actor):
        requester = actor
    reported_at = data.reported_at or now
    ticket = Ticket(
        kind=data.kind,
        channel=data.channel,
        grade=data.grade if data.kind == Kind.INCIDENT else None,
        title=data.title.strip(),
        description=data.description,
        system=data.system,
        category=data.category,
        requester=requester,
        requester_name=data.requester_name or (requester.display_name if requester else ""),
        requester_department=data.requester_department
        or (requester.department if requester else ""),
        requester_phone=data.requester_phone or (requester.phone if requester else ""),
        requester_email=data.requester_email or (requester.email if requester else ""),
        reported_at=reported_at,
        owner=actor if access.roles.is_desk(actor) else None,
    )
    sla.sla_ticket_prepare(ticket=ticket)
    if data.kind == Kind.TASK and data.resolution_due is not None:
        ticket.resolution_due = data.resolution_due
    levels = sla.sla_ticket_opening_levels(ticket=ticket)
    scope = _number_scope(data.kind, reported_at)
    _insert_new_ticket(ticket, scope=scope, actor=actor, at=now, levels=levels)
    if data.tags:
        set_ticket_tags(ticket, data.tags)
    sla.sla_ticket_opened(ticket=ticket, levels=levels)
    return ticket


def set_ticket_tags(ticket: Ticket, names: Iterable[str]) -> None:
    """Give the ticket exactly these tags (trimmed, deduplicated), creating missing ones.

    Inside the caller's transaction; ``ticket_create`` and ``ticket_update`` record the change.
    """
    clean = sorted({name.strip() for name in names if name and name.strip()})
    existing = {tag.name: tag for tag in Tag.objects.filter(name__in=clean)}
    missing = [Tag(name=name) for name in clean if name not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
    ticket.tags.set(Tag.objects.filter(name__in=clean))
