#!/usr/bin/env python
"""Ticket scale benchmark on PostgreSQL: 1M tickets, API creation rate, desk list latency.

Not a test. Every figure is printed beside a raw psycopg baseline measured in the same run:

- API creation: sequential ``POST /api/v1/tickets/`` (token auth, full service path) vs a raw
  single-row INSERT of a ticket-shaped row + COMMIT.               target: ≥ 20 % of raw rate
- Desk list (``GET /tickets/``, the real page incl. template rendering): page 1 and a deep page,
  unfiltered and filtered, vs an indexed keyset SELECT of 25 rows.  target: p95 ≤ 25× raw
- Chinese substring search on the list page (a title phrase, a requester's name) vs the same
  ILIKE query on the same trigram index.                           target: p95 ≤ 3× raw
  When PostgreSQL answers the raw query without the trigram index (a phrase on many tickets:
  walking the primary key finds 25 matches at once), it is a filtered list; the line says so
  and is held to the list target, with the ratio against 3× printed beside it.
Each page request alternates with its baseline query (each API create with a raw insert), so
the machine's busy moments weigh on both sides of a ratio alike.

Usage:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/opsdesk_tickets_bench \\
        .venv/bin/python bench/bench_tickets.py [--tickets 1000000] [--runs 200]
The database is created if missing; seeded rows are kept between runs (re-seeded when
``SEED_VERSION`` changes).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/opsdesk_tickets_bench"

STATUSES = ["closed"] * 17 + ["resolved", "in_progress", "assigned"]
# Requesters: 10 surnames x 20 given names, each name on 0.5 % of the tickets.
SURNAMES = "王李张刘陈杨黄赵吴周"
GIVEN_NAMES = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "华",
    "平",
]
REQUESTERS = [surname + given for surname in SURNAMES for given in GIVEN_NAMES]
SEED_VERSION = "2"  # bump when the seeded rows change shape: the next run re-seeds


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def timed_pair(first, second, runs: int) -> tuple[list[float], list[float]]:
    """ms per call of each, the two calls alternating: a busy moment of the machine (the
    database, another process) then weighs on both sides of a ratio alike."""
    first(), second()  # warm-up
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for fn, out in ((first, samples[0]), (second, samples[1])):
            start = time.perf_counter()
            fn()
            out.append((time.perf_counter() - start) * 1000)
    return samples


def ensure_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    subprocess.run(
        ["createdb", "-h", "127.0.0.1", "-U", "postgres", name],
        capture_output=True,
        check=False,
    )


def seed(total: int) -> None:
    """Insert ticket rows set-based with generate_series, in chunks, until ``total`` exist."""
    from django.db import connection

    from directory.models import BusinessSystem, User
    from tickets.demo import TITLES as TITLES_BY_SYSTEM
    from tickets.models import Ticket

    titles_list = [title for titles in TITLES_BY_SYSTEM.values() for title in titles]
    with connection.cursor() as cursor:
        cursor.execute("SELECT obj_description('tickets_ticket'::regclass)")
        (seeded_version,) = cursor.fetchone()
    if seeded_version != f"bench seed {SEED_VERSION}":
        print("seed: the seeded rows are missing or of an older shape, seeding anew")
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE tickets_ticket CASCADE")
    have = Ticket.objects.count()
    if have >= total:
        print(f"seed: {have:,} tickets present, skipping")
        return
    systems = list(BusinessSystem.objects.values_list("id", "vendor_id"))
    desk = User.objects.get(username="desk").pk
    known = {
        "number", "kind", "channel", "grade", "title", "description", "system_id",
        "requester_name", "requester_department", "requester_phone", "requester_email",
        "reported_at", "status", "vendor_id", "owner_id", "assigned_at", "responded_at",
        "resolved_at", "closed_at", "resolution_code", "resolution", "first_line_resolution",
        "pending_reason", "cancel_reason", "response_due", "resolution_due",
        "paused_working_seconds", "version", "search_text", "created_at", "updated_at", "id",
    }  # fmt: skip
    for field in Ticket._meta.concrete_fields:
        if field.column not in known and not field.null:
            sys.exit(f"seed: don't know how to fill NOT NULL column {field.column}")
    titles = "ARRAY[" + ",".join(f"'{t}'" for t in titles_list) + "]"
    statuses = "ARRAY[" + ",".join(f"'{s}'" for s in STATUSES) + "]"
    system_ids = "ARRAY[" + ",".join(str(s) for s, _ in systems) + "]"
    vendor_ids = "ARRAY[" + ",".join(str(v) for _, v in systems) + "]"
    requesters = "ARRAY[" + ",".join(f"'{name}'" for name in REQUESTERS) + "]"
    chunk = 100_000
    start = have + 1
    # reported_at spreads the rows evenly over the last two years, oldest first.
    span_seconds = 2 * 365 * 86400
    while start <= total:
        end = min(total, start + chunk - 1)
        sql = f"""
        INSERT INTO tickets_ticket (
            number, kind, channel, grade, title, description, system_id,
            requester_name, requester_department, requester_phone, requester_email,
            reported_at, status, vendor_id, owner_id, assigned_at, responded_at, resolved_at,
            closed_at, resolution_code, resolution, first_line_resolution, pending_reason,
            cancel_reason, response_due, resolution_due, paused_working_seconds, version,
            search_text, created_at, updated_at)
        SELECT
            'BEN-' || lpad(g::text, 8, '0'),
            'incident', 'phone', 1 + g % 3,
            ({titles})[1 + g % {len(titles_list)}] || ' #' || g,
            '用户来电反映：' || ({titles})[1 + (g / 7) % {len(titles_list)}] || '，请尽快处理。',
            ({system_ids})[1 + g % {len(systems)}],
            ({requesters})[1 + g % {len(REQUESTERS)}], '社保业务科',
            '020-8' || lpad((g % 9999999)::text, 7, '0'), '',
            t.reported, s.status, ({vendor_ids})[1 + g % {len(systems)}], {desk},
            t.reported + interval '5 minutes', t.reported + interval '20 minutes',
            CASE WHEN s.status IN ('closed', 'resolved') THEN t.reported + interval '3 hours' END,
            CASE WHEN s.status = 'closed' THEN t.reported + interval '1 day' END,
            CASE WHEN s.status IN ('closed', 'resolved') THEN 'fixed' ELSE '' END,
            CASE WHEN s.status IN ('closed', 'resolved') THEN '已修复' ELSE '' END,
            false, '', '',
            t.reported + interval '30 minutes', t.reported + interval '1 day', 0, 1,
            'BEN-' || lpad(g::text, 8, '0') || E'\\n' || ({titles})[1 + g % {len(titles_list)}]
                || ' #' || g || E'\\n' || '用户来电反映：'
                || ({titles})[1 + (g / 7) % {len(titles_list)}] || '，请尽快处理。'
                || E'\\n' || ({requesters})[1 + g % {len(REQUESTERS)}],
            t.reported, t.reported + interval '1 day'
        FROM generate_series({start}, {end}) AS g
        CROSS JOIN LATERAL (SELECT now() - make_interval(
            secs => {span_seconds} * (1 - g::float8 / {total})) AS reported) AS t
        CROSS JOIN LATERAL (
            SELECT ({statuses})[1 + (g::bigint * 7919) % {len(STATUSES)}] AS status) s
        """
        t0 = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(sql)
        print(f"seed: rows {start:,}–{end:,} in {time.perf_counter() - t0:.1f}s", flush=True)
        start = end + 1
    with connection.cursor() as cursor:
        cursor.execute(f"COMMENT ON TABLE tickets_ticket IS 'bench seed {SEED_VERSION}'")
        cursor.execute("VACUUM ANALYZE tickets_ticket")


def drop_created_tickets() -> int:
    """Delete what the API creation phase added (seeded rows are ``BEN-…``), with its events.

    Left in place, every run would stack its tickets above the seeded ones: the filtered and
    search queries (page and raw alike) then walk past them, and the figures drift run to run.
    """
    from django.db import connection

    from tickets.models import Ticket

    deleted, _ = Ticket.objects.exclude(number__startswith="BEN-").delete()
    if deleted:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE tickets_ticket")
    return deleted


def raw_queries(conn, deep_id: int, searches: dict[str, str]) -> dict[str, tuple[str, tuple]]:
    """The baseline of each case: an indexed keyset SELECT of 25 ticket rows, or the same
    ILIKE on the same trigram index."""
    columns = "id, number, title, status, grade, reported_at, resolution_due"
    queries = {
        "page 1": (f"SELECT {columns} FROM tickets_ticket ORDER BY id DESC LIMIT 25", ()),
        "deep page": (
            f"SELECT {columns} FROM tickets_ticket WHERE id < %s ORDER BY id DESC LIMIT 25",
            (deep_id,),
        ),
        "filtered page 1": (
            f"SELECT {columns} FROM tickets_ticket WHERE status = 'in_progress' "
            "ORDER BY id DESC LIMIT 25",
            (),
        ),
        "filtered deep": (
            f"SELECT {columns} FROM tickets_ticket WHERE status = 'in_progress' AND id < %s "
            "ORDER BY id DESC LIMIT 25",
            (deep_id,),
        ),
    }
    for label, term in searches.items():
        queries[label] = (
            f"SELECT {columns} FROM tickets_ticket WHERE search_text ILIKE %s "
            "ORDER BY id DESC LIMIT 25",
            (f"%{term}%",),
        )
    return queries


TRIGRAM_INDEX = "ticket_search_trgm"


def search_access_path(conn, sql: str, params: tuple) -> str:
    """The index the raw search query's plan reads: the trigram index, or (for a phrase on
    many tickets) the primary key walked backwards until 25 rows match."""
    plan = "\n".join(row[0] for row in conn.execute("EXPLAIN " + sql, params).fetchall())
    for index in (TRIGRAM_INDEX, "tickets_ticket_pkey"):
        if index in plan:
            return index
    return "no index"


def raw_insert(conn, system_id: int):
    """One ticket-shaped row INSERT + COMMIT per call (the rows are deleted afterwards)."""
    sql = (
        "INSERT INTO tickets_ticket (number, kind, channel, grade, title, description,"
        " system_id, requester_name, requester_department, requester_phone,"
        " requester_email, reported_at, status, assigned_at, responded_at,"
        " resolution_code, resolution, first_line_resolution, pending_reason,"
        " cancel_reason, response_due, resolution_due, paused_working_seconds, version,"
        " search_text, created_at, updated_at) VALUES (%s, 'incident', 'api', 2, %s,"
        " %s, %s, '', '', '', '', now(), 'new', NULL, NULL, '', '', false, '', '',"
        " now(), now(), 0, 1, %s, now(), now())"
    )

    def insert() -> None:
        number = f"RAW-{time.time_ns()}"
        conn.execute(sql, (number, "监控告警：接口超时", "raw", system_id, "raw"))
        conn.commit()

    return insert


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--creates", type=int, default=1000)
    args = parser.parse_args()

    url = os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    if not url.startswith("postgres"):
        sys.exit("bench_tickets needs DATABASE_URL=postgres://...")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsdesk.settings")
    os.environ.setdefault("OPSDESK_LOG_LEVEL", "WARNING")
    # Measure what production runs: with DEBUG on, Django records every query and skips the
    # cached template loader, which alone costs several milliseconds per page.
    os.environ["DEBUG"] = "false"
    ensure_database(url)

    import django
    import psycopg

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from rest_framework.authtoken.models import Token

    from directory.demo import seed_directory
    from directory.models import BusinessSystem, User
    from opsdesk.keyset import encode_cursor
    from tickets.models import Ticket

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", "--no-input", verbosity=0)
    seed_directory()
    drop_created_tickets()  # left over by an interrupted run
    seed(args.tickets)
    # No setup_test_environment(): it instruments template rendering for assertions, which a
    # production request never pays for.

    dsn = url.replace("postgres://", "postgresql://", 1)
    ids = Ticket.objects.order_by("-id").values_list("id", flat=True)
    deep_id = ids[int(args.tickets * 0.9)]  # 90 % of the way down the list
    # A phrase in many tickets' titles (12.5 % of the rows), and a requester's name (0.5 %).
    searches = {"search phrase": "社保缴费页面", "search name": "张秀英"}

    desk = User.objects.get(username="desk")
    client = Client()
    client.force_login(desk)
    deep = encode_cursor(deep_id, deep_id)
    pages = {
        "page 1": "/tickets/",
        "deep page": f"/tickets/?after={deep}",
        "filtered page 1": "/tickets/?status=in_progress",
        "filtered deep": f"/tickets/?status=in_progress&after={deep}",
        **{label: f"/tickets/?search={term}" for label, term in searches.items()},
    }

    def fetch(path: str) -> None:
        response = client.get(path)
        if response.status_code != 200:
            sys.exit(f"{path} answered {response.status_code}")

    def queries(request) -> int:
        """SQL statements one request runs, counted after a warm-up request."""
        request()
        with CaptureQueriesContext(connection) as captured:
            request()
        return len(captured)

    print(f"\nDesk list on {Ticket.objects.count():,} tickets ({args.runs} runs each, ms)")
    print(f"{'case':<16}{'page p50':>10}{'page p95':>10}{'raw p50':>10}{'raw p95':>10}"
          f"{'p95 ratio':>11}{'target':>9}{'queries':>9}")  # fmt: skip
    with psycopg.connect(dsn, autocommit=True) as raw_conn:
        for label, (sql, params) in raw_queries(raw_conn, deep_id, searches).items():
            path = pages[label]
            base, samples = timed_pair(
                lambda sql=sql, params=params: raw_conn.execute(sql, params).fetchall(),
                lambda path=path: fetch(path),
                args.runs,
            )
            ratio = percentile(samples, 95) / percentile(base, 95)
            target, footnote = 25, ""
            if label.startswith("search"):
                access = search_access_path(raw_conn, sql, params)
                if access == TRIGRAM_INDEX:
                    target = 3
                else:
                    verdict = "meets" if ratio <= 3 else "MISSES"
                    footnote = (
                        f"  * the raw query read {access}, not the trigram index: PostgreSQL "
                        f"answered it as a filtered list, so the list target applies "
                        f"({ratio:.1f}x {verdict} the search target of 3x)"
                    )
            count = queries(lambda path=path: fetch(path))
            mark = "*" if footnote else ""
            print(
                f"{label:<16}{percentile(samples, 50):>10.1f}{percentile(samples, 95):>10.1f}"
                f"{percentile(base, 50):>10.2f}{percentile(base, 95):>10.2f}{ratio:>10.1f}x"
                f"{'≤' + str(target) + 'x' + mark:>9}{count:>9} "
                f"{'OK' if ratio <= target else 'MISSED'}"
            )
            if footnote:
                print(footnote)

    # No target: the desk's landing page, its queue counts over every open ticket.
    open_count = Ticket.objects.open().count()
    home, _ = timed_pair(lambda: fetch("/"), lambda: None, args.runs)
    print(
        f"{'desk home':<16}{percentile(home, 50):>10.1f}{percentile(home, 95):>10.1f}"
        f"   (queue counts over {open_count:,} open tickets; no baseline)"
    )

    system = BusinessSystem.objects.get(code="labour-online")
    token, _ = Token.objects.get_or_create(user=desk)
    api = Client(HTTP_AUTHORIZATION=f"Token {token.key}")
    payload = {
        "title": "监控告警：接口响应超时",
        "kind": "incident",
        "grade": 2,
        "system": "labour-online",
        "channel": "monitoring",
    }

    def create() -> None:
        response = api.post("/api/v1/tickets/", payload, content_type="application/json")
        if response.status_code != 201:
            sys.exit(f"API create answered {response.status_code}: {response.content[:300]}")

    create_queries = queries(create)
    with psycopg.connect(dsn) as raw_conn:
        raw_ms, api_ms = timed_pair(raw_insert(raw_conn, system.pk), create, args.creates)
        raw_conn.execute("DELETE FROM tickets_ticket WHERE number LIKE 'RAW-%%'")
        raw_conn.commit()
    raw_rate = 1000 * len(raw_ms) / sum(raw_ms)
    api_rate = 1000 * len(api_ms) / sum(api_ms)
    share = api_rate / raw_rate
    drop_created_tickets()
    print(f"\nSequential creation ({args.creates} tickets, alternating with the raw inserts)")
    print(f"  API POST /api/v1/tickets/  {api_rate:8.0f} tickets/s ({create_queries} queries)")
    print(f"  raw INSERT + COMMIT        {raw_rate:8.0f} rows/s")
    print(f"  ratio {share:.0%} (target ≥ 20%) {'OK' if share >= 0.2 else 'MISSED'}")


if __name__ == "__main__":
    main()
