"""The command line of the fault drills: `python -m bench.faults --scenario <name>|all [options]`."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import bench.faults
from bench.common import (
    check_local,
    csv_choices,
    ensure_postgres_database,
    raise_fd_limit,
    smoke_defaults,
    stop_all,
)
from bench.faults import archive, burst, daphne_kill, editors, hung, postgres_down, redis_faults
from bench.faults.drill import Drill
from bench.faults.outcome import Outcome, print_table
from bench.faults.sampler import ConnectionSampler

# In this order for --scenario all. Each: async (drill) -> Outcome.
SCENARIOS = {
    "redis-outage": redis_faults.outage,
    "redis-wipe": redis_faults.wipe,
    "burst": burst.run,
    "daphne-kill": daphne_kill.run,
    "archive": archive.run,
    postgres_down.NAME: postgres_down.run,
    editors.NAME: editors.run,
    **hung.RUNS,
}
# Scenarios with a bound of their own instead of --scenario-timeout (many runs).
TIMEOUTS = {editors.NAME: editors.timeout}

# --smoke: every scenario, tiny, in a few minutes at most (explicit options still win).
SMOKE = {
    "heartbeat": 2.0,
    "readers": 4,
    "concurrency": 4,
    "settle_seconds": 30.0,
    "scenario_timeout": 120.0,
    "outage_readers": 3,
    "outage_seconds": 3.0,
    "outage_posts": 6,
    "after_posts": 2,
    "wipe_readers": 3,
    "wipe_posts": 3,
    "burst_readers": 4,
    "burst_posts": 20,
    "burst_threads": 2,
    "slow_readers": 1,
    "down_posts": 2,
    "down_seconds": 1.0,
    "reconnect_wait": 30.0,
    "pg_readers": 3,
    "pg_down_seconds": 9.0,
    "pg_before_seconds": 1.5,
    "pg_after_seconds": 1.5,
    "pg_recover_timeout": 30.0,
    "editors_runs": 1,
    "editors_posts": 40,
    "editors_resume_rate": 1.0,
    "editors_reload_share": 0.5,
    "editors_count": 2,
    "editors_readers": 4,
    "editors_older_clicks": 1,
    "editors_publish_timeout": 60.0,
    # A hung PostgreSQL costs a request about 5 s (DJANGO_DB_ANSWER_TIMEOUT + the probe): 9 s shows it.
    "hung_readers": 3,
    "hung_seconds": 9.0,
    "hung_before_seconds": 1.5,
    "hung_after_seconds": 3.0,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.faults", description=bench.faults.__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--scenario",
        type=csv_choices({"all", *SCENARIOS}),
        default=["all"],
        metavar="all|" + "|".join(SCENARIOS),
        help="one, several (comma-separated) or all, in the order listed",
    )
    parser.add_argument(
        "--smoke", action="store_true", help="tiny figures for every scenario (CI's smoke run)"
    )
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/liveblog_faults")
    parser.add_argument("--heartbeat", type=float, default=5.0, help="hub heartbeat in Daphne, s (app: 25)")
    parser.add_argument(
        "--group-refresh", type=float, default=10.0, help="redis-wipe: LIVEBLOG_GROUP_REFRESH_SECONDS, s"
    )
    parser.add_argument("--settle-seconds", type=float, default=45.0, help="max wait for complete readers")
    parser.add_argument("--scenario-timeout", type=float, default=400.0)
    parser.add_argument("--concurrency", type=int, default=20, help="readers connecting at once")
    parser.add_argument("--per-address", type=int, default=10, help="readers per 127.0.0.x source address")
    parser.add_argument(
        "--readers",
        type=int,
        default=100,
        help="daphne-kill, archive (daphne-kill: 1,000 tested; see --per-address)",
    )
    parser.add_argument("--outage-readers", type=int, default=20)
    parser.add_argument("--outage-seconds", type=float, default=30.0)
    parser.add_argument("--outage-posts", type=int, default=300)
    parser.add_argument("--after-posts", type=int, default=5, help="posts after Redis is back")
    parser.add_argument("--wipe-readers", type=int, default=20)
    parser.add_argument("--wipe-posts", type=int, default=20)
    parser.add_argument("--wipe-mode", choices=["restart", "flushall"], default="restart")
    parser.add_argument("--burst-readers", type=int, default=100)
    parser.add_argument("--burst-posts", type=int, default=500)
    parser.add_argument("--burst-threads", type=int, default=4)
    parser.add_argument(
        "--burst-batch",
        type=int,
        default=0,
        help="burst: posts per publish_posts call (0: publish_post, --burst-threads editors)",
    )
    parser.add_argument("--slow-readers", type=int, default=10)
    parser.add_argument("--slow-sleep", type=float, default=0.02, help="slow readers' sleep per frame, s")
    parser.add_argument("--down-posts", type=int, default=20, help="posts while Daphne is down")
    parser.add_argument("--down-seconds", type=float, default=5.0)
    parser.add_argument("--reconnect-wait", type=float, default=90.0, help="daphne-kill: max wait, s")
    parser.add_argument("--term-grace", type=float, default=2.0, help="SIGKILL after this many s")
    parser.add_argument(
        "--sigkill", action="store_true", help="daphne-kill: SIGKILL at once (no SIGTERM, no graceful close)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--conn-timeline", action="store_true", help="also print the peak DB connections per 5 s window"
    )
    parser.add_argument("--logdir", help="keep the servers' logs here")
    postgres_down.add_arguments(parser)
    editors.add_arguments(parser)
    hung.add_arguments(parser)
    return parser


async def main_async(args, logdir: Path) -> list[Outcome]:
    drill = Drill(args, logdir)
    outcomes: list[Outcome] = []
    try:
        drill.redis.start()
        await asyncio.to_thread(drill.setup)
        print(
            f"redis 127.0.0.1:{drill.redis_port} (throwaway); database {args.database_url}; "
            f"heartbeat {args.heartbeat}s; group refresh (redis-wipe) {args.group_refresh}s; logs {logdir}",
            flush=True,
        )
        names = [name for name in SCENARIOS if "all" in args.scenario or name in args.scenario]
        for name in names:
            print(f"running {name} ...", file=sys.stderr, flush=True)
            sampler = ConnectionSampler(args.database_url)
            sampler.start()
            bound = TIMEOUTS[name](args) if name in TIMEOUTS else args.scenario_timeout
            try:
                outcome = await asyncio.wait_for(SCENARIOS[name](drill), bound)
            except TimeoutError:
                outcome = Outcome(name, extra_figures={"error": "scenario timed out"})
            except Exception as error:  # report and go on with the next scenario
                outcome = Outcome(name, extra_figures={"error": repr(error)[:120]})
            finally:
                sampler.stop()
            outcome.extra_figures["db_conns_peak"] = sampler.text()
            if args.conn_timeline:
                outcome.extra_figures["db_conns_per_5s"] = sampler.timeline()
            print(outcome.line(), flush=True)
            outcomes.append(outcome)
            if drill.redis.process is None or drill.redis.process.poll() is not None:
                drill.redis.start()
    finally:
        if drill.daphne is not None:
            drill.daphne.stop()
        drill.redis.stop()
        drill.close()
    return outcomes


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = smoke_defaults(parser, SMOKE, argv)
    if check_local(args.database_url) or not args.database_url.startswith("postgres"):
        parser.error("needs PostgreSQL on 127.0.0.1")
    raise_fd_limit()
    ensure_postgres_database(args.database_url)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="faults-") as tmp:
        logdir = Path(args.logdir) if args.logdir else Path(tmp)
        logdir.mkdir(parents=True, exist_ok=True)
        try:
            outcomes = asyncio.run(main_async(args, logdir))
        finally:
            stop_all()  # anything still running, by PID
    print(f"\nAll scenarios ({time.monotonic() - started:.0f} s):", flush=True)
    print_table(outcomes)
    sys.exit(0 if all(o.verdict() == "PASS" for o in outcomes) else 1)


if __name__ == "__main__":
    main()
