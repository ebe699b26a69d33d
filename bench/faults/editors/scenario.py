"""The editors drill: its options, one run, and the aggregate of all runs (see the package's docstring)."""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import random
import statistics
import time
from dataclasses import dataclass, field

from bench.common import cpu_seconds, pct
from bench.faults.editors.check import check, final_state
from bench.faults.editors.crowd import Crowd
from bench.faults.editors.processes import Editors
from bench.faults.outcome import Outcome
from bench.faults.publishing import fresh_blog

NAME = "editors"


def timeout(args) -> float:
    """The whole scenario's bound in seconds (the CLI uses it instead of --scenario-timeout)."""
    return args.editors_timeout or 120.0 + 90.0 * args.editors_runs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("editors scenario")
    group.add_argument("--editors-runs", type=int, default=20)
    group.add_argument(
        "--editors-timeout", type=float, default=0.0, help="bound for all runs, s (0: 90 s per run + 120 s)"
    )
    group.add_argument("--editors-posts", type=int, default=1000, help="new posts per run, all editors")
    group.add_argument("--editors-count", type=int, default=4, help="editor processes")
    group.add_argument("--editors-readers", type=int, default=50)
    group.add_argument(
        "--editors-resume-rate",
        type=float,
        default=0.2,
        help="resumes per reader and second while publishing",
    )
    group.add_argument("--editors-reload-share", type=float, default=0.3, help="of resumes: page reloads")
    group.add_argument("--editors-edit-rate", type=float, default=0.15, help="edits per new post")
    group.add_argument(
        "--editors-important-rate", type=float, default=0.10, help="important toggles per post"
    )
    group.add_argument("--editors-delete-rate", type=float, default=0.05, help="deletes per new post")
    group.add_argument("--editors-interval", type=float, default=0.0, help="each editor's pause per post, s")
    group.add_argument(
        "--editors-away-rate",
        type=float,
        default=0.0,
        help="per reader and second: scroll away for a while, come back, click 'Show new updates'",
    )
    group.add_argument(
        "--editors-older-clicks",
        type=int,
        default=3,
        help="reloaded readers per run that click 'Load older posts' to the end before the check",
    )
    group.add_argument("--editors-publish-timeout", type=float, default=300.0)


@dataclass
class RunFigures:
    outcome: Outcome
    seconds: float
    events: int = 0
    missed: int = 0
    duplicated: int = 0
    dup_kinds: tuple[int, int, int] = (0, 0, 0)  # dup_seq, dup_insert, dup_older
    resumes: int = 0
    catchups: int = 0
    rate: float = 0.0
    settle: float | None = None
    older_dup_risk: int = 0
    reconnects: list[float] = field(default_factory=list)


async def one_run(drill, number: int, port: int) -> RunFigures:
    args = drill.args
    started = time.monotonic()
    out = Outcome(f"{NAME} {number}/{args.editors_runs}")
    figures = RunFigures(out, 0.0)
    blog_id, slug = await asyncio.to_thread(fresh_blog, f"editors{number}")
    editors = Editors(drill, blog_id, number)
    crowd = Crowd(drill, port, slug, args.editors_readers, random.Random(drill.rng.random()))
    try:
        # Both start up at once: the editors' Django setup while readers load the page.
        await asyncio.gather(editors.start(), crowd.open_all())
        daphne_cpu = cpu_seconds(drill.daphne.process.pid)
        own_cpu = time.process_time()
        done = asyncio.Event()
        chaos = asyncio.create_task(crowd.chaos(done))
        t0 = time.monotonic()
        editors.go()
        try:
            results = await editors.wait(args.editors_publish_timeout)
        finally:
            done.set()
            await chaos
        published = time.monotonic()
        publish_s = published - t0
        load1 = os.getloadavg()[0]
        await crowd.finish_chores()

        final = await asyncio.to_thread(final_state, blog_id)
        # Settle: every reader complete (reloaded pages: down to their "Load older posts").
        deadline = time.monotonic() + args.settle_seconds
        while time.monotonic() < deadline and not all(check(r, final).converged for r in crowd.readers):
            await asyncio.sleep(0.25)
        settled = all(check(r, final).converged for r in crowd.readers)
        figures.settle = time.monotonic() - published if settled else None
        out.settle = f"{figures.settle:.1f}s" if settled else f">{time.monotonic() - published:.0f}s"
        cpu_window = time.monotonic() - t0
        daphne_cpu = cpu_seconds(drill.daphne.process.pid) - daphne_cpu
        own_cpu = time.process_time() - own_cpu

        # Some reloaded readers scroll to the end: "Load older posts" until there is no more.
        with_cursor = [r for r in crowd.readers if r.cursor is not None]
        clickers = drill.rng.sample(with_cursor, min(args.editors_older_clicks, len(with_cursor)))
        for reader in clickers:
            await reader.load_all_older()
        final = await asyncio.to_thread(final_state, blog_id)  # unchanged; read again to be sure
        checks = [check(r, final) for r in crowd.readers]

        readers = crowd.readers
        out.readers = len(readers)
        out.posts_db = len(final.html)
        out.complete = sum(c.complete for c in checks)
        out.missing = sum(c.missing for c in checks)
        out.extra = sum(c.extra for c in checks)
        stale = sum(c.stale for c in checks)
        behind = sum(c.behind for c in checks)
        dup_seq = crowd.retired.dup_seq + sum(r.dup_seq for r in readers)
        dup_insert = crowd.retired.dup_insert + sum(r.dup_insert for r in readers)
        dup_older = sum(r.dup_older for r in readers)
        dup_older_by = sum((r.dup_older_by for r in readers), collections.Counter())
        catchups = crowd.retired.catchups + sum(r.stats.catchup_requests for r in readers)
        per_reader = [r.stats.catchup_requests for r in readers]
        out.catchups = f"{catchups} (max {max(per_reader, default=0)}/reader)"
        reconnects = crowd.retired.reconnect + [t for r in readers for t in r.stats.reconnect_seconds]
        figures.reconnects = reconnects
        if reconnects:
            out.reconnect = (
                f"p50 {pct(reconnects, 50):.1f} p95 {pct(reconnects, 95):.1f} max {max(reconnects):.1f}"
            )
        totals = {
            key: sum(r[key] for r in results)
            for key in (
                *("created", "edited", "important", "deleted", "failed"),
                *("broadcast_failures", "layer_full_drops", "cpu_s"),
            )
        }
        first_error = next((r["first_error"] for r in results if r["first_error"]), "")
        events = final.last_seq
        figures.events = events
        figures.missed = out.missing + stale
        figures.duplicated = dup_seq + dup_insert + dup_older
        figures.dup_kinds = (dup_seq, dup_insert, dup_older)
        figures.resumes = crowd.drops + crowd.reloads
        figures.catchups = catchups
        figures.rate = events / publish_s
        figures.older_dup_risk = sum(c.older_dup_risk for c in checks)
        out.extra_figures.update(
            {
                "events": str(events),
                "created": str(totals["created"]),
                "edited": str(totals["edited"]),
                "important": str(totals["important"]),
                "deleted": str(totals["deleted"]),
                "save_failures": str(totals["failed"]),
                "broadcast_failures": str(totals["broadcast_failures"]),
                # Pushes the channel layer dropped because Daphne's hub channel was full.
                "layer_full_drops": str(totals["layer_full_drops"]),
                "publish_s": f"{publish_s:.1f}",
                "events_per_s": f"{figures.rate:.0f}",
                "missed": str(figures.missed),
                "stale": str(stale),
                "behind": str(behind),
                "duplicated": str(figures.duplicated),
                "dup_seq": str(dup_seq),
                "dup_insert": str(dup_insert),
                "dup_older": f"{dup_older}({len(clickers)} clicked through)",
                "dup_older_inserted_by": ",".join(f"{k}:{n}" for k, n in sorted(dup_older_by.items())) or "-",
                "older_dup_risk": str(figures.older_dup_risk),
                "drops": f"{crowd.drops}(+{crowd.drops_missed} while reconnecting)",
                "reloads": str(crowd.reloads),
                "reload_failures": str(crowd.reload_failures),
                "aways": str(crowd.aways),
                "catchup_failures": str(
                    crowd.retired.catchup_failures + sum(r.stats.catchup_failures for r in readers)
                ),
                "catchup_5xx": str(crowd.retired.catchup_5xx + sum(r.stats.catchup_5xx for r in readers)),
                "pushed": str(crowd.retired.pushed + sum(r.stats.pushed_events for r in readers)),
                "cpu_s": (
                    f"editors:{totals['cpu_s']:.0f}/daphne:{daphne_cpu:.0f}/drill:{own_cpu:.0f}"
                    f"/wall:{cpu_window:.0f}"
                ),
                "load1": f"{load1:.1f}",
            }
        )
        if first_error:
            out.extra_figures["first_save_error"] = repr(first_error[:120])
        out.ok = (
            settled
            and out.complete == len(readers)
            and figures.missed == 0
            and out.extra == 0
            and figures.duplicated == 0
            and behind == 0
            and totals["failed"] == 0
            and crowd.reload_failures == 0
        )
    finally:
        await crowd.close_all()
        await editors.stop()
    figures.seconds = time.monotonic() - started
    return figures


async def run(drill) -> Outcome:
    args = drill.args
    started = time.monotonic()
    static_root = await asyncio.to_thread(drill.static_root)  # readers load the page
    daphne = drill.start_daphne("editors", DJANGO_STATIC_ROOT=static_root)
    runs: list[RunFigures] = []
    stopped_early = ""
    try:
        for number in range(1, args.editors_runs + 1):
            # The CLI bounds the whole scenario with timeout(args): do not start a run that
            # would not fit (estimated from the slowest so far; the first is always tried).
            longest = max((r.seconds for r in runs), default=0.0)
            left = timeout(args) - (time.monotonic() - started)
            if runs and left < 1.3 * longest + 20:
                stopped_early = f"out of the scenario's time ({timeout(args):.0f}s)"
                break
            try:
                figures = await one_run(drill, number, daphne.port)
            except Exception as error:  # this run failed as a whole: say why, go on with the next
                figures = RunFigures(Outcome(f"{NAME} {number}/{args.editors_runs}"), 0.0)
                figures.outcome.extra_figures["error"] = repr(error)[:200]
                figures.seconds = time.monotonic() - started - sum(r.seconds for r in runs)
            figures.outcome.extra_figures["run_s"] = f"{figures.seconds:.0f}"
            print(figures.outcome.line(), flush=True)
            runs.append(figures)
            if daphne.process is None or daphne.process.poll() is not None:
                stopped_early = "Daphne died"
                break
    finally:
        daphne.stop()
    out = Outcome(NAME)
    out.readers = sum(r.outcome.readers for r in runs)
    out.posts_db = sum(r.outcome.posts_db for r in runs)
    out.complete = sum(r.outcome.complete for r in runs)
    out.missing = sum(r.outcome.missing for r in runs)
    out.extra = sum(r.outcome.extra for r in runs)
    settles = [r.settle for r in runs if r.settle is not None]
    unsettled = len(runs) - len(settles)
    out.settle = (f"max {max(settles):.1f}s" if settles else "-") + (
        f" ({unsettled} never)" if unsettled else ""
    )
    out.catchups = str(sum(r.catchups for r in runs))
    reconnects = [t for r in runs for t in r.reconnects]
    if reconnects:
        p50, p95 = pct(reconnects, 50), pct(reconnects, 95)
        out.reconnect = f"p50 {p50:.1f} p95 {p95:.1f} max {max(reconnects):.1f}"
    rates = [r.rate for r in runs]
    out.extra_figures.update(
        {
            "runs": f"{len(runs)}/{args.editors_runs}",
            "passed": str(sum(r.outcome.ok for r in runs)),
            "events": str(sum(r.events for r in runs)),
            "missed": str(sum(r.missed for r in runs)),
            "duplicated": str(sum(r.duplicated for r in runs)),
            "dup_seq": str(sum(r.dup_kinds[0] for r in runs)),
            "dup_insert": str(sum(r.dup_kinds[1] for r in runs)),
            "dup_older": str(sum(r.dup_kinds[2] for r in runs)),
            "older_dup_risk": str(sum(r.older_dup_risk for r in runs)),
            "resumes": str(sum(r.resumes for r in runs)),
            "events_per_s": (
                f"p50 {statistics.median(rates):.0f} min {min(rates):.0f} max {max(rates):.0f}"
                if rates
                else "-"
            ),
            "per_run_missed": "/".join(str(r.missed) for r in runs),
            "per_run_duplicated": "/".join(str(r.duplicated) for r in runs),
            "run_s": f"p50 {statistics.median([r.seconds for r in runs]):.0f}" if runs else "-",
        }
    )
    if stopped_early:
        out.extra_figures["stopped"] = stopped_early
    out.ok = bool(runs) and all(r.outcome.ok for r in runs) and len(runs) == args.editors_runs
    return out
