"""SLA escalation sweep and deadline throughput on PostgreSQL (a benchmark, not a test).

Measures, in one run on the same rows:

1. worst case — ``--tickets`` open tickets (default 100k) whose 50% response level all fall
   due at once: one ``escalation_sweep`` (time, queries, notifications written) beside the raw
   statement ``UPDATE sla_escalationschedule SET fired_at = now() WHERE fired_at IS NULL AND
   due_at < now()`` over the same rows; the target is a ratio within 2x;
2. a typical minute — 1% of the tickets cross a threshold, the rest are due later;
3. deadline computations per second through ``sla_ticket_prepare`` (configuration warm).

The rows are reset and the table vacuumed between runs, so every run starts from the same
state. The tickets are spread over 100 engineers of 10 vendors and 10 desk agents; the 50%
level notifies the engineer, so the worst case sends each engineer one digest (more than
``DIGEST_AFTER`` tickets at once) and a typical minute mostly per-ticket notifications.
Recipients have no e-mail address and no robot is active: the sweep writes the in-app
notifications; e-mail and robot deliveries are rows of the notifications outbox, sent later.

Usage::

    createdb -h 127.0.0.1 -U postgres opsdesk_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/opsdesk_bench \\
        .venv/bin/python bench/bench_sla_sweep.py [--tickets 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsdesk.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/opsdesk_bench")
os.environ.setdefault("OPSDESK_LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from directory.models import BusinessSystem, User, Vendor  # noqa: E402
from directory.roles import Role  # noqa: E402
from notifications.models import Delivery, Notification, WebhookEndpoint  # noqa: E402
from notifications.services import ticket_url  # noqa: E402
from sla.models import EscalationRule, EscalationSchedule, Metric  # noqa: E402
from sla.selectors import sla_config  # noqa: E402
from sla.services import escalation_sweep, sla_ticket_prepare  # noqa: E402
from tickets.models import Kind, Status, Ticket  # noqa: E402

BATCH = 5000
SCHEDULE = EscalationSchedule._meta.db_table
RAW_SQL = f"UPDATE {SCHEDULE} SET fired_at = now() WHERE fired_at IS NULL AND due_at < now()"


def say(message: str) -> None:
    print(message, flush=True)


def setup_database(tickets: int) -> None:
    if connection.vendor != "postgresql":
        sys.exit("bench_sla_sweep needs PostgreSQL: set DATABASE_URL=postgres://…")
    call_command("migrate", verbosity=0)
    WebhookEndpoint.objects.update(is_active=False)
    with connection.cursor() as cursor:
        # Tickets and everything hanging off them: events, SLA rows, notifications, deliveries.
        cursor.execute(f"TRUNCATE {Ticket._meta.db_table}, {Notification._meta.db_table} CASCADE")
    # A realistic spread: 10 vendors with 10 engineers and a manager each, 10 desk agents.
    vendors = [
        Vendor.objects.get_or_create(code=f"bench-vendor-{v}", defaults={"name": f"服务商{v}"})[0]
        for v in range(10)
    ]
    system, _ = BusinessSystem.objects.get_or_create(
        code="bench-system", defaults={"name": "压测系统", "tier": "main", "vendor": vendors[0]}
    )
    engineers = [
        _user(f"bench-engineer-{n}", Role.VENDOR_ENGINEER, vendor=vendors[n % 10])
        for n in range(100)
    ]
    desk = [_user(f"bench-desk-{n}", Role.DESK_AGENT) for n in range(10)]
    for v, vendor in enumerate(vendors):
        _user(f"bench-manager-{v}", Role.VENDOR_MANAGER, vendor=vendor)
    _user("bench-supervisor", Role.DESK_SUPERVISOR)
    _user("bench-leader", Role.CENTRE_LEADER)
    reported = timezone.now() - timedelta(days=1)
    say(f"creating {tickets:,} open tickets and their due escalation levels …")
    began = time.perf_counter()
    for start in range(0, tickets, BATCH):
        Ticket.objects.bulk_create(
            Ticket(
                number=f"BENCH-{n:07d}",
                kind=Kind.INCIDENT,
                channel="monitoring",
                grade=2,
                title=f"压测故障 {n}",
                system=system,
                reported_at=reported,
                status=Status.ASSIGNED,
                vendor_id=engineers[n % 100].vendor_id,
                engineer=engineers[n % 100],
                owner=desk[n % 10],
                response_due=reported + timedelta(minutes=30),
                resolution_due=reported + timedelta(hours=8),
            )
            for n in range(start, min(start + BATCH, tickets))
        )
    rule = EscalationRule.objects.get(metric=Metric.RESPONSE, fraction=0.5, grade=None)
    with connection.cursor() as cursor:
        # One level per ticket (response 50% → engineer), all due in the past.
        cursor.execute(
            f"INSERT INTO {SCHEDULE} (ticket_id, metric, rule_id, due_at) "
            "SELECT id, 'response', %s, reported_at + interval '15 minutes' FROM tickets_ticket",
            [rule.pk],
        )
        cursor.execute(f"VACUUM ANALYZE {SCHEDULE}")
        cursor.execute("VACUUM ANALYZE tickets_ticket")
    say(f"  done in {time.perf_counter() - began:.1f} s")


def _user(username: str, role: str, vendor: Vendor | None = None) -> User:
    # No e-mail address: the sweep writes in-app notifications, the outbox sends e-mail later.
    user, _ = User.objects.update_or_create(
        username=username, defaults={"vendor": vendor, "email": ""}
    )
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def reset(*, crossing: int | None = None) -> None:
    """Every level unfired; ``crossing`` of them due now, the rest tomorrow (None: all due)."""
    Delivery.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Notification._meta.db_table} CASCADE")
        if crossing is None:
            cursor.execute(
                f"UPDATE {SCHEDULE} SET fired_at = NULL, due_at = now() - interval '1 hour'"
            )
        else:
            cursor.execute(
                f"UPDATE {SCHEDULE} SET fired_at = NULL, due_at = CASE WHEN id IN "
                f"(SELECT id FROM {SCHEDULE} ORDER BY random() LIMIT %s) "
                "THEN now() - interval '1 minute' ELSE now() + interval '1 day' END",
                [crossing],
            )
        cursor.execute(f"VACUUM ANALYZE {SCHEDULE}")
        cursor.execute(f"VACUUM ANALYZE {Notification._meta.db_table}")


def time_raw() -> tuple[float, int]:
    began = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(RAW_SQL)
        rows = cursor.rowcount
    return time.perf_counter() - began, rows


def time_sweep() -> tuple[float, int, int, int]:
    with CaptureQueriesContext(connection) as queries:
        began = time.perf_counter()
        fired = escalation_sweep(now=timezone.now())
        elapsed = time.perf_counter() - began
    return elapsed, fired, len(queries), Notification.objects.count()


def compare(label: str, *, crossing: int | None, repeat: int) -> None:
    raw_times, sweep_times = [], []
    for _ in range(repeat):
        reset(crossing=crossing)
        elapsed, rows = time_raw()
        raw_times.append(elapsed)
        reset(crossing=crossing)
        sweep_elapsed, fired, queries, notified = time_sweep()
        sweep_times.append(sweep_elapsed)
        assert fired == rows, (fired, rows)
    raw, sweep = statistics.median(raw_times), statistics.median(sweep_times)
    say(f"\n{label}: {rows:,} levels due")
    say(
        f"  raw UPDATE … WHERE due_at < now(): median {raw * 1000:8.1f} ms, "
        f"best {min(raw_times) * 1000:8.1f} ms  ({repeat} runs)"
    )
    say(
        f"  escalation_sweep:                  median {sweep * 1000:8.1f} ms, "
        f"best {min(sweep_times) * 1000:8.1f} ms  "
        f"({queries} queries, {notified:,} notifications)"
    )
    say(
        f"  ratio sweep / raw:                 median {sweep / raw:8.2f}x, "
        f"best {min(sweep_times) / min(raw_times):8.2f}x"
    )


def deadline_rate(count: int) -> None:
    config = sla_config()  # warm: calendars, policies and rules in memory
    rng = random.Random(1)
    origin = timezone.now() - timedelta(days=365)
    system_ids = list(BusinessSystem.objects.values_list("pk", flat=True)) or [None]
    mix = [(Kind.INCIDENT, 1), (Kind.INCIDENT, 2), (Kind.INCIDENT, 3), (Kind.REQUEST, None)]
    mix.append((Kind.COMPLAINT, None))
    tickets = []
    for _ in range(count):
        kind, grade = rng.choice(mix)
        reported = origin + timedelta(seconds=rng.randrange(2 * 365 * 86400))
        tickets.append(
            Ticket(kind=kind, grade=grade, system_id=rng.choice(system_ids), reported_at=reported)
        )
    for ticket in tickets[:1000]:  # warm the calendars' day caches as a live process would
        sla_ticket_prepare(ticket=ticket)
    with CaptureQueriesContext(connection) as queries:
        began = time.perf_counter()
        for ticket in tickets:
            sla_ticket_prepare(ticket=ticket)
        elapsed = time.perf_counter() - began
    assert config is sla_config()
    say(
        f"\nsla_ticket_prepare: {count / elapsed:,.0f} tickets/s (response + resolution "
        f"deadline each), {len(queries)} queries for {count:,} tickets"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--deadlines", type=int, default=50_000)
    args = parser.parse_args()

    setup_database(args.tickets)
    # A worker is a long-lived process: load the URLconf, translations and SLA configuration
    # once before timing, as the first sweep after start-up would.
    ticket_url(1)
    sla_config()
    say(f"database: {connection.settings_dict['NAME']} on PostgreSQL {connection.pg_version}")
    compare("worst case (every ticket crosses at once)", crossing=None, repeat=args.repeat)
    compare("typical minute (1% crossing)", crossing=args.tickets // 100, repeat=args.repeat)
    deadline_rate(args.deadlines)


if __name__ == "__main__":
    main()
