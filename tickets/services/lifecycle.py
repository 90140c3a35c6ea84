"""The ticket's lifecycle: which transitions a state allows, one service per transition, edits,
logging a phone call (create and dispatch) and the automatic closure of resolved tickets.

Every transition locks the ticket row, checks the actor's role (``tickets.access``) and the
state guard, saves with ``update_fields``, bumps ``version``, records an append-only event and
lets ``sla.services`` move the clocks. Failures raise ``DomainError`` subclasses and change
nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from directory.models import User, Vendor
from opsdesk import clock
from opsdesk.errors import InvalidTransition, StaleVersion, ValidationFailed
from sla import services as sla
from tickets import access
from tickets.access import Action
from tickets.events import diff, event_record
from tickets.models import (
    OPEN_STATUSES,
    EventAction,
    Kind,
    ResolutionCode,
    Status,
    Ticket,
    TicketDispatch,
)
from tickets.services.creation import TicketInput, set_ticket_tags, ticket_create

# Which states each transition may start from.
ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    Action.ASSIGN: (Status.NEW, Status.ASSIGNED, Status.ACCEPTED, Status.IN_PROGRESS),
    Action.ACCEPT: (Status.ASSIGNED,),
    Action.START: (Status.ACCEPTED,),
    Action.PEND: (Status.ACCEPTED, Status.IN_PROGRESS),
    Action.RESUME: (Status.PENDING,),
    Action.RESOLVE: (Status.NEW, Status.ASSIGNED, Status.ACCEPTED, Status.IN_PROGRESS),
    Action.CLOSE: (Status.RESOLVED,),
    Action.REOPEN: (Status.RESOLVED, Status.CLOSED),
    Action.CANCEL: (Status.NEW, Status.ASSIGNED),
    Action.REGRADE: OPEN_STATUSES,
}


def allowed_actions(user, ticket: Ticket, *, now: datetime | None = None) -> list[str]:
    """Transitions and edits this user may perform on this ticket right now (for the UI)."""
    granted = access.role_actions(user, ticket)
    now = now or clock.now()
    actions = []
    for action in granted:
        if action in ALLOWED_FROM and _state_refusal(user, ticket, action, now=now) is not None:
            continue
        if action == Action.EDIT and not ticket.is_open:
            continue
        actions.append(action)
    return sorted(actions)


def _check_state(user, ticket: Ticket, action: str, *, now: datetime) -> None:
    refusal = _state_refusal(user, ticket, action, now=now)
    if refusal is not None:
        raise InvalidTransition(refusal())


def _state_refusal(user, ticket: Ticket, action: str, *, now: datetime) -> Callable[[], str] | None:
    """Why the ticket's state forbids ``action`` (the message, built on demand), or None.

    The message is built only when raised: ``allowed_actions`` asks about every action of a
    role on each detail page and API response, and translating refusals it never shows cost
    more than the rest of the check.
    """
    if ticket.status not in ALLOWED_FROM[action]:
        return lambda: (
            _("工单状态为“%(status)s”，不能执行“%(action)s”。")
            % {
                "status": ticket.get_status_display(),
                "action": _action_label(action),
            }
        )
    # Only the desk resolves before the vendor has accepted: first-line resolution.
    if (
        action == Action.RESOLVE
        and ticket.status in (Status.NEW, Status.ASSIGNED)
        and not access.roles.is_desk(user)
    ):
        return lambda: _("请先接单再解决。")
    if action == Action.REGRADE and ticket.kind != Kind.INCIDENT:
        return lambda: _("只有故障工单有级别。")
    if action == Action.REOPEN:
        finished_at = ticket.closed_at or ticket.resolved_at
        window = timedelta(days=settings.OPSDESK_REOPEN_WINDOW_DAYS)
        if finished_at and now - finished_at > window:
            return lambda: _("已超过 %(days)s 天的重新打开期限。") % {"days": window.days}
    return None


def _action_label(action: str) -> str:
    labels = {
        Action.ASSIGN: _("派单"),
        Action.ACCEPT: _("接单"),
        Action.START: _("开始处理"),
        Action.PEND: pgettext("action", "挂起"),  # the verb: "Pending" is the state
        Action.RESUME: _("恢复处理"),
        Action.RESOLVE: _("解决"),
        Action.CLOSE: _("关闭"),
        Action.REOPEN: _("重新打开"),
        Action.CANCEL: _("取消"),
        Action.REGRADE: _("调整级别"),
    }
    return str(labels.get(action, action))


# ---------------------------------------------------------------------------------------------
# The transition machinery


def _required_reason(reason: str | None, missing: str) -> str:
    """The trimmed reason a transition records; ``missing`` is the 400 when there is none."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(missing, field="reason")
    return reason


def _locked(actor, ticket_id, action: str, expected_version: int | None) -> Ticket:
    ticket = access.access_ticket(actor, ticket_id, for_update=True)
    access.require_action(actor, ticket, action)
    if expected_version is not None and ticket.version != expected_version:
        raise StaleVersion(
            _("工单已被他人修改（当前版本 %(current)s，您的版本 %(yours)s），请刷新后重试。")
            % {"current": ticket.version, "yours": expected_version}
        )
    return ticket


def _transition(
    *,
    actor,
    ticket_id,
    action: str,
    event: EventAction | Callable[[Ticket], EventAction],
    expected_version: int | None,
    apply: Callable[[Ticket, datetime], set[str]],
    note: str = "",
) -> Ticket:
    """Lock, guard, mutate (``apply`` returns changed fields), save, record — or change nothing."""
    now = clock.now()
    ticket = _locked(actor, ticket_id, action, expected_version)
    if action in ALLOWED_FROM:
        _check_state(actor, ticket, action, now=now)
    from_status = ticket.status
    tracked = ("status", "vendor", "engineer", "grade", "resolution_code", "pending_reason")
    before = {name: getattr(ticket, name) for name in tracked}
    if callable(event):
        event = event(ticket)  # decided on the locked row, e.g. dispatch vs re-dispatch
    changed = apply(ticket, now)
    ticket.version += 1
    ticket.save(update_fields=[*changed, "version", "updated_at"])
    after = {name: getattr(ticket, name) for name in tracked if name in changed}
    event_record(
        ticket=ticket,
        actor=actor,
        action=event,
        at=now,
        from_status=from_status,
        changes=diff(before, after),
        note=note,
    )
    return ticket


@transaction.atomic
def ticket_assign(
    *,
    actor,
    ticket_id,
    vendor: Vendor,
    engineer: User | None = None,
    expected_version: int | None = None,
    note: str = "",
) -> Ticket:
    """Dispatch (派单) to a vendor, or re-dispatch to another one; starts a vendor clock."""
    if engineer is not None and engineer.vendor_id != vendor.pk:
        raise ValidationFailed(_("工程师不属于该服务商。"), field="engineer")
    if not vendor.is_active:
        raise ValidationFailed(_("该服务商已停用。"), field="vendor")
    dispatch_holder: list[TicketDispatch] = []

    def apply(ticket: Ticket, now: datetime) -> set[str]:
        if ticket.vendor_id == vendor.pk and ticket.status != Status.NEW:
            if engineer is None or engineer.pk == ticket.engineer_id:
                raise InvalidTransition(_("工单已派给该服务商。"))
            ticket.engineer = engineer
            return {"engineer"}
        TicketDispatch.objects.filter(ticket=ticket, ended_at__isnull=True).update(ended_at=now)
        dispatch_holder.append(
            TicketDispatch.objects.create(
                ticket=ticket,
                vendor=vendor,
                engineer=engineer,
                dispatched_by=actor,
                dispatched_at=now,
                note=note,
            )
        )
        ticket.vendor = vendor
        ticket.engineer = engineer
        ticket.status = Status.ASSIGNED
        ticket.assigned_at = now
        return {"vendor", "engineer", "status", "assigned_at"}

    def event(ticket: Ticket) -> EventAction:
        return EventAction.REASSIGNED if ticket.vendor_id else EventAction.ASSIGNED

    ticket = _transition(
        actor=actor,
        ticket_id=ticket_id,
        action=Action.ASSIGN,
        event=event,
        expected_version=expected_version,
        apply=apply,
        note=note,
    )
    if dispatch_holder:
        sla.sla_ticket_dispatched(ticket=ticket, dispatch=dispatch_holder[0])
    return ticket


@transaction.atomic
def ticket_accept(*, actor, ticket_id, expected_version: int | None = None) -> Ticket:
    """The vendor acknowledges the ticket: the first response (响应)."""

    def apply(ticket: Ticket, now: datetime) -> set[str]:
        ticket.status = Status.ACCEPTED
        changed = {"status"}
        if ticket.engineer_id is None and access.roles.is_vendor_staff(actor):
            ticket.engineer = actor
            changed.add("engineer")
        TicketDispatch.objects.filter(
            ticket=ticket, ended_at__isnull=True, accepted_at__isnull=True
        ).update(accepted_at=now)
        # Every dispatch has its own vendor clock, also after the ticket itself was answered.
        changed |= sla.sla_dispatch_accepted(ticket=ticket, at=now)
        if ticket.responded_at is None:
            ticket.responded_at = now
            changed |= {"responded_at", *sla.sla_ticket_responded(ticket=ticket, at=now)}
        return changed

    return _transition(
        actor=actor,
        ticket_id=ticket_id,
        action=Action.ACCEPT,
        event=EventAction.ACCEPTED,
        expected_version=expected_version,
        apply=apply,
    )


@transaction.atomic
def ticket_start(*, actor, ticket_id, expected_version: int | None = None) -> Ticket:
    def apply(ticket: Ticket, now: datetime) -> set[str]:
        ticket.status = Status.IN_PROGRESS
        return {"status"}

    return _transition(
        actor=actor,
        ticket_id=ticket_id,
        action=Action.START,
        event=EventAction.STARTED,
        expected_version=expected_version,
        apply=apply,
    )


@transaction.atomic
def ticket_pend(*, actor, ticket_id, reason: str, expected_version: int | None = None) -> Ticket:
    """Wait on the requester or a third party (挂起): the resolution clock stops."""
    reason = _required_reason(reason, _("挂起必须填写原因。"))

    def apply(ticket: Ticket, now: datetime) -> set[str]:
        ticket.status = Status.PENDING
        ticket.pending_reason = reason[:500]
        return {"status", "pending_reason", *sla.sla_ticket_paused(ticket=ticket, at=now)}

    return _transition(
        actor=actor,
        ticket_id=ticket_id,
        action=Action.PEND,
        event=EventAction.PENDED,
        expected_version=expected_version,
        apply=apply,
        note=reason,
    )


@transaction.atomic
def ticket_resume(*, actor, ticket_id, expected_version: int | None = None) -> Ticket:
    """Back to work after a pause; the resolution deadline moves by the working time paused."""

    def apply(ticket: Ticket, now: datetime) -> set[str]:
        ticket.status = Status.IN_PROGRESS
        ticket.pending_reason = ""
        return {"status", "pending_reason", *sla.sla_ticket_resumed(ticket=ticket, at=now)}

    return _transition(
        actor=actor,
        ticket_id=ticket_id,
        action=Action.RESUME,
        event=EventAction.RESUMED,
        expected_version=expected_version,
        apply=apply,
    )


@transaction.atomic
def ticket_resolve(
    *,
    actor,
    ticket_id,
    resolution: str,
    resolution_code: str = ResolutionCode.FIXED,
    expected_version: int | None = None,
) -> Ticket:
    """Service restored (解决). By the desk before any vendor accepted: first-line resolution."""
    resolution = (resolution or "").strip()
    if not resolution:
        raise ValidationFailed(_("解决时必须填写解决说明。"), field="resolution")
    if resolution_code not in ResolutionCode.values:
        raise ValidationFailed(_("未知的解决方式。"), field="resolution_code")

    def apply(ticket: Ticket, now: datetime) -> set[str]:
        changed = {"status", "resolution", "resolution_code", "resolved_at"}
        if ticket.status in (Status.NEW, Status.ASSIGNED):
            ticket.first_line_resolution = True
            changed.add("first_line_resolution")
        if ticket.responded_at is None:
            # The desk's first-line resolution also answers the response clock.
            ticket.responded_at = now
            changed |= {"responded_at", *sla.sla_ticket_responded(ticket=ticket, at=now)}
        ticket.status = Status.RESOLVED
        ticket.resolution = resolution
        ticket.resolution_code = resolution_code
        ticket.resolved_at = now
        return changed | sla.sla_ticket_resolved(ticket=ticket, at=now)

    return _transition(
        actor=actor,
        ticket_id=ticket_id,
        action=Action.RESOLVE,
        event=EventAction.RESOLVED,
        expected_version=expected_version,
        apply=apply,
        note=resolution,
    )


@transaction.atomic
def ticket_close(
    *, actor, ticket_id, expected_version: int | None = None, note: str = ""
) -> Ticket:
    """The desk (or the requester) confirms the resolution (关闭)."""

    def apply(ticket: Ticket, now: datetime) -> set[str]:
        ticket.status = Status.CLOSED
        ticket.closed_at = now
        return {"status", "closed_at", *sla.sla_ticket_finished(ticket=ticket, at=now)}

    return _transition(
        actor=actor,
        ticket_id=ticket_id,
        action=Action.CLOSE,
        event=EventAction.CLOSED,
        expected_version=expected_version,
        apply=apply,
        note=note,
    )


@transaction.atomic
def ticket_reopen(*, actor, ticket_id, reason: str, expected_version: int | None = None) -> Ticket:
    """Reopen within the window: back to the vendor if one had accepted, else to the desk."""
    reason = _required_reason(reason, _("重新打开必须填写原因。"))

    def apply(ticket: Ticket, now: datetime) -> set[str]:
        if ticket.vendor_id is None:
            ticket.status = Status.NEW
        elif ticket.responded_at is not None:
            ticket.status = Status.IN_PROGRESS
        else:
            ticket.status = Status.ASSIGNED
        ticket.resolved_at = None
        ticket.closed_at = None
        ticket.first_line_resolution = False
        changed = {"status", "resolved_at", "closed_at", "first_line_resolution"}
        return changed | sla.sla_ticket_reopened(ticket=ticket, at=now)

    return _transition(
        actor=actor,
        ticket_id=ticket_id,
        action=Action.REOPEN,
        event=EventAction.REOPENED,
        expected_version=expected_version,
        apply=apply,
        note=reason,
    )


@transaction.atomic
def ticket_cancel(*, actor, ticket_id, reason: str, expected_version: int | None = None) -> Ticket:
    reason = _required_reason(reason, _("取消必须填写原因。"))

    def apply(ticket: Ticket, now: datetime) -> set[str]:
        ticket.status = Status.CANCELLED
        ticket.cancel_reason = reason[:500]
        ticket.closed_at = now
        TicketDispatch.objects.filter(ticket=ticket, ended_at__isnull=True).update(ended_at=now)
        changed = {"status", "cancel_reason", "closed_at"}
        return changed | sla.sla_ticket_finished(ticket=ticket, at=now)

    return _transition(
        actor=actor,
        ticket_id=ticket_id,
        action=Action.CANCEL,
        event=EventAction.CANCELLED,
        expected_version=expected_version,
        apply=apply,
        note=reason,
    )


@transaction.atomic
def ticket_regrade(
    *, actor, ticket_id, grade: int, reason: str, expected_version: int | None = None
) -> Ticket:
    """Change a fault's grade; records who, when, old → new and why; deadlines follow."""
    if grade not in (1, 2, 3):
        raise ValidationFailed(_("故障级别必须是 1–3。"), field="grade")
    reason = _required_reason(reason, _("调整级别必须填写原因。"))

    def apply(ticket: Ticket, now: datetime) -> set[str]:
        if ticket.grade == grade:
            raise InvalidTransition(_("级别未改变。"))
        ticket.grade = grade
        return {"grade", *sla.sla_ticket_reclassified(ticket=ticket)}

    return _transition(
        actor=actor,
        ticket_id=ticket_id,
        action=Action.REGRADE,
        event=EventAction.REGRADED,
        expected_version=expected_version,
        apply=apply,
        note=reason,
    )


EDITABLE_FIELDS = (
    "title",
    "description",
    "channel",
    "system",
    "category",
    "requester_name",
    "requester_department",
    "requester_phone",
    "requester_email",
    "kind",
)


@transaction.atomic
def ticket_update(
    *,
    actor,
    ticket_id,
    changes: dict,
    expected_version: int | None = None,
    tags: list[str] | None = None,
) -> Ticket:
    """Edit descriptive fields (desk only). Kind or system changes recompute the deadlines."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationFailed(
            _("不可修改的字段：%(fields)s") % {"fields": ", ".join(sorted(unknown))},
            field=sorted(unknown)[0],
        )
    now = clock.now()
    ticket = _locked(actor, ticket_id, Action.EDIT, expected_version)
    if not ticket.is_open:
        raise InvalidTransition(_("已结束的工单不能修改。"))
    if "title" in changes and not (changes["title"] or "").strip():
        raise ValidationFailed(_("标题不能为空。"), field="title")
    new_kind = changes.get("kind", ticket.kind)
    if new_kind not in Kind.values:
        raise ValidationFailed(_("未知的工单类型。"), field="kind")
    if new_kind != ticket.kind and (new_kind == Kind.INCIDENT or ticket.kind == Kind.INCIDENT):
        # Turning a request into a fault needs a grade: that is a regrade decision, not an edit.
        raise ValidationFailed(_("故障与非故障类型之间不能直接转换。"), field="kind")
    before = {name: getattr(ticket, name) for name in changes}
    for name, value in changes.items():
        setattr(ticket, name, value)
    changed = {name for name in changes if before[name] != getattr(ticket, name)}
    if changed & {"kind", "system"}:
        changed |= sla.sla_ticket_reclassified(ticket=ticket)
    if changed & {"title", "description", "requester_name"}:
        ticket.search_text = ticket.build_search_text()
        changed.add("search_text")
    if tags is not None:
        set_ticket_tags(ticket, tags)
    if not changed and tags is None:
        return ticket
    ticket.version += 1
    ticket.save(update_fields=[*changed, "version", "updated_at"])
    after = {name: getattr(ticket, name) for name in changes}
    changes_diff = diff(before, after)
    if tags is not None:
        changes_diff["tags"] = [None, sorted(tags)]
    event_record(
        ticket=ticket, actor=actor, action=EventAction.UPDATED, at=now, changes=changes_diff
    )
    return ticket


# ---------------------------------------------------------------------------------------------
# Log a phone call: create and dispatch in one step


@transaction.atomic
def ticket_log_call(
    *, actor, data: TicketInput, vendor: Vendor | None, engineer: User | None = None
) -> Ticket:
    """The desk's "log a phone call": create the ticket and, if a vendor is chosen, dispatch."""
    ticket = ticket_create(actor=actor, data=data)
    if vendor is not None:
        ticket = ticket_assign(actor=actor, ticket_id=ticket.pk, vendor=vendor, engineer=engineer)
    return ticket


# ---------------------------------------------------------------------------------------------
# Automatic closure

AUTO_CLOSE_BATCH_SIZE = 500


def auto_close_cutoff(*, now: datetime, working_days: int) -> datetime:
    """Tickets resolved before this instant have waited ``working_days`` full working days.

    Working days follow the ``cn-gov`` calendar (weekends, statutory holidays, make-up days).
    """
    from sla.calendar import is_working_day
    from sla.selectors import calendar_for

    # The admin-maintained calendar, so that entered holidays and make-up days count.
    calendar = calendar_for("cn-gov")
    day = timezone.localtime(now, calendar.tzinfo).date()
    counted = 0
    while counted < working_days:
        day -= timedelta(days=1)
        if is_working_day(day, calendar):
            counted += 1
    return datetime.combine(day, datetime.min.time(), tzinfo=calendar.tzinfo)


def ticket_auto_close(*, ticket_id, now: datetime) -> bool:
    """Close one resolved ticket on the requester's behalf; False when it changed meanwhile."""
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().filter(pk=ticket_id).first()
        if ticket is None or ticket.status != Status.RESOLVED:
            return False
        from_status = ticket.status
        ticket.status = Status.CLOSED
        ticket.closed_at = now
        changed = {"status", "closed_at", *sla.sla_ticket_finished(ticket=ticket, at=now)}
        ticket.version += 1
        ticket.save(update_fields=[*changed, "version", "updated_at"])
        event_record(
            ticket=ticket,
            actor=None,
            action=EventAction.CLOSED,
            at=now,
            from_status=from_status,
            changes={"status": [from_status, Status.CLOSED]},
            note=_("解决后超过 %(days)s 个工作日未确认，系统自动关闭。")
            % {"days": settings.OPSDESK_AUTO_CLOSE_WORKING_DAYS},
        )
    return True


def tickets_auto_close(*, now: datetime) -> int:
    """Close resolved tickets older than the configured number of working days; returns count."""
    cutoff = auto_close_cutoff(now=now, working_days=settings.OPSDESK_AUTO_CLOSE_WORKING_DAYS)
    ids = list(
        Ticket.objects.filter(status=Status.RESOLVED, resolved_at__lt=cutoff)
        .order_by("id")
        .values_list("id", flat=True)[:AUTO_CLOSE_BATCH_SIZE]
    )
    return sum(ticket_auto_close(ticket_id=pk, now=now) for pk in ids)
