"""Throughput of SLA deadline computations (no Django needed).

Computes deadlines for a mix of 30, 240 and 2100 working-minute targets from random
starts across 2025-2027 on the ``cn-gov`` calendar, then measures the inverse
(``working_minutes_between``) on the same pairs. A raw ``start + timedelta(minutes=m)``
loop runs in the same process as a baseline, so the ratio is comparable across machines.

Usage: ``.venv/bin/python bench/bench_deadlines.py [--n 20000] [--repeat 3] [--seed 1]``
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

# Standalone script: make the repository root importable without installing the project.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sla.calendar import (  # noqa: E402
    add_working_time,
    cn_gov_calendar,
    working_minutes_between,
)

TARGETS = (30, 240, 2100)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def random_starts(count: int, seed: int) -> list[tuple[datetime, int]]:
    """``count`` (start, minutes) pairs, starts uniform over 2025-01-01 .. 2027-12-31."""
    rng = random.Random(seed)
    origin = datetime(2025, 1, 1, tzinfo=SHANGHAI)
    span_seconds = int(timedelta(days=3 * 365).total_seconds())
    return [
        (origin + timedelta(seconds=rng.randrange(span_seconds)), rng.choice(TARGETS))
        for _ in range(count)
    ]


def best_rate(run: Callable[[], object], count: int, repeat: int) -> float:
    """Best-of-``repeat`` operations per second; best-of filters scheduler noise."""
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - began)
    return count / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="deadlines per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    calendar = cn_gov_calendar()
    cases = random_starts(args.n, args.seed)
    # Warm the per-day cache once, as a long-running web worker would be; the timed
    # runs then measure the steady state.
    deadlines = [add_working_time(start, minutes, calendar) for start, minutes in cases]
    pairs = list(zip((start for start, _ in cases), deadlines, strict=True))

    def baseline() -> None:
        for start, minutes in cases:
            start + timedelta(minutes=minutes)

    def deadline_run() -> None:
        for start, minutes in cases:
            add_working_time(start, minutes, calendar)

    def between_run() -> None:
        for start, end in pairs:
            working_minutes_between(start, end, calendar)

    # Sanity check outside the timed region: the inverse must give the targets back.
    for (start, minutes), (_, end) in zip(cases, pairs, strict=True):
        assert working_minutes_between(start, end, calendar) == minutes

    base = best_rate(baseline, args.n, args.repeat)
    add_rate = best_rate(deadline_run, args.n, args.repeat)
    between_rate = best_rate(between_run, args.n, args.repeat)

    print(f"n={args.n} targets={TARGETS} starts=2025..2027 calendar={calendar.code}")
    print(f"{'operation':<28}{'ops/s':>14}{'vs baseline':>14}")
    print(f"{'baseline start+timedelta':<28}{base:>14,.0f}{1:>14.1f}x")
    for name, rate in (
        ("add_working_time", add_rate),
        ("working_minutes_between", between_rate),
    ):
        print(f"{name:<28}{rate:>14,.0f}{base / rate:>13.1f}x slower")


if __name__ == "__main__":
    main()
