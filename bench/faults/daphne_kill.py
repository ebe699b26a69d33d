"""Scenario "daphne-kill": the server process dies under readers and comes back.

--readers readers; Daphne SIGTERM, SIGKILL after --term-grace s (or at once with --sigkill);
--down-posts posts while it is down; restarted on the same port after --down-seconds. Reconnect
times and catch-up requests per reader (counted by the readers).

Readers spread over source addresses (--per-address, under the server's cap of 20 per
address); 1,000 of them need ~1,000 file descriptors in this process and in Daphne (the CLI
raises the soft limit to the hard one) and stay far below PostgreSQL's 100 connections
(the catch-up endpoint runs LIVEBLOG_CATCH_UP_CONCURRENCY at once per process).

db_queries: statements the drill's database ran from the restart until settled
(pg_stat_database.xact_commit + xact_rollback; each autocommit statement is one
transaction), also per reader. A socket's connect reads 2 (its blog, then its last_seq), a
catch-up 1 when its answer is cached (3 when it renders it), the heartbeat 1 per process
every --heartbeat s; each connection checkout adds one more statement (the pool's health
check, or SET TIME ZONE on a new connection when the server's zone is not UTC). So
3 queries per reader show as ~6 statements.
"""

from __future__ import annotations

import asyncio
import time

from bench.common import LiveReader, pct
from bench.faults.outcome import Outcome
from bench.faults.publishing import publish_many
from bench.faults.sampler import statements


def triggers(readers: list[LiveReader]) -> dict[str, int]:
    total: dict[str, int] = {}
    for reader in readers:
        for name, count in reader.stats.catchup_triggers.items():
            total[name] = total.get(name, 0) + count
    return total


async def run(drill) -> Outcome:
    args, out = drill.args, Outcome("daphne-kill")
    async with drill.stage("kill", args.readers) as (daphne, blog_id, slug, readers):
        await asyncio.to_thread(publish_many, blog_id, 5, "before")
        await drill.settle(blog_id, readers, 20)
        base = drill.baseline(readers)
        triggers_before = triggers(readers)
        early_before = sum(r.stats.early_reconnects for r in readers)
        # Sockets in service (they got their hello): one closed at once with 4013 is no reconnect.
        connects = [r.stats.served for r in readers]
        how = await asyncio.to_thread(daphne.kill_hard, args.term_grace, args.sigkill)
        killed = time.monotonic()
        ok, _ = await asyncio.to_thread(publish_many, blog_id, args.down_posts, "down")
        remaining = args.down_seconds - (time.monotonic() - killed)
        if remaining > 0:
            await asyncio.sleep(remaining)
        await asyncio.to_thread(daphne.start)
        statements_before = await asyncio.to_thread(statements, args.database_url)
        out.extra_figures["stopped_by"] = how
        out.extra_figures["down_s"] = f"{time.monotonic() - killed:.1f}"
        out.extra_figures["saves_ok"] = f"{ok}/{args.down_posts}"
        failures_before = [r.stats.connect_failures for r in readers]
        codes_before = [len(r.stats.close_codes) for r in readers]
        fivexx_before = sum(r.stats.catchup_5xx for r in readers)
        deadline = time.monotonic() + args.reconnect_wait
        while time.monotonic() < deadline and not all(
            r.stats.served > c for r, c in zip(readers, connects, strict=True)
        ):
            await asyncio.sleep(0.2)
        await drill.settle_or_probe(blog_id, slug, daphne.port, readers, out, killed)
        await asyncio.sleep(1.0)  # backends report their statistics within a second
        statements_after = await asyncio.to_thread(statements, args.database_url)
        times = [t for r in readers for t in r.stats.reconnect_seconds]
        worst = max(times, default=float("nan"))
        out.reconnect = f"p50 {pct(times, 50):.1f} p95 {pct(times, 95):.1f} max {worst:.1f}"
        out.extra_figures["reconnected"] = (
            f"{sum(r.stats.served > c for r, c in zip(readers, connects, strict=True))}/{len(readers)}"
        )
        out.catchups, requests, failures = drill.catchup_figures(readers, base)
        out.extra_figures["readers_over_1_query"] = str(sum(n > 1 for n in requests))
        after = triggers(readers)
        out.extra_figures["catchups_by_trigger"] = (
            ",".join(
                f"{name}:{after[name] - triggers_before.get(name, 0)}"
                for name in sorted(after)
                if after[name] > triggers_before.get(name, 0)
            )
            or "none"
        )
        out.extra_figures["early_reconnects"] = str(
            sum(r.stats.early_reconnects for r in readers) - early_before
        )
        if statements_before is not None and statements_after is not None:
            queries = statements_after - statements_before
            out.extra_figures["db_queries"] = f"{queries}({queries / max(len(readers), 1):.2f}/reader)"
        out.extra_figures["failed_catchups"] = str(sum(failures))
        out.extra_figures["catchup_retries"] = str(sum(r.stats.catchup_retries for r in readers))
        out.extra_figures["catchup_5xx"] = str(sum(r.stats.catchup_5xx for r in readers) - fivexx_before)
        out.extra_figures["ws_connect_failures"] = str(
            sum(r.stats.connect_failures - f for r, f in zip(readers, failures_before, strict=True))
        )
        codes: dict[int, int] = {}
        for r, n in zip(readers, codes_before, strict=True):
            for code in r.stats.close_codes[n:]:
                codes[code] = codes.get(code, 0) + 1
        out.extra_figures["close_codes"] = ",".join(f"{c}x{k}" for c, k in sorted(codes.items())) or "none"
        await drill.verify(blog_id, readers, out)
    return out
