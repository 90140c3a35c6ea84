"""Configuration changes made in the admin: keep the cached snapshot and schedules honest."""

from __future__ import annotations

from django.db import transaction

from sla import selectors
from sla.models import EscalationRule, EscalationSchedule


def sla_config_changed() -> None:
    """Calendars, policies or rules were edited: rebuild this process's snapshot now.

    Also after commit, so that a snapshot read inside the editing transaction is dropped.
    Other processes pick the change up within ``selectors.CONFIG_TTL_SECONDS``.
    """
    selectors.sla_config_invalidate()
    transaction.on_commit(selectors.sla_config_invalidate)


def escalation_rule_saved(*, rule: EscalationRule) -> int:
    """After an admin saved a rule: a deactivated rule's pending levels are cancelled.

    Returns how many pending levels were cancelled.
    """
    cancelled = 0
    if not rule.is_active:
        cancelled, _ = EscalationSchedule.objects.filter(rule=rule, fired_at__isnull=True).delete()
    sla_config_changed()
    return cancelled
