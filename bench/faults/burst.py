"""Scenario "burst": many posts at once to readers, some of them slow.

--burst-posts posts as fast as services allow (--burst-threads editors, one transaction per post;
or --burst-batch posts per services.publish_posts call, as a results feed would) to
--burst-readers readers, --slow-readers of them sleeping --slow-sleep s per frame.
"""

from __future__ import annotations

import asyncio
import sys
import time

from bench.faults.outcome import Outcome
from bench.faults.publishing import publish_many


def publish_batches(blog_id: int, count: int, label: str, batch: int) -> tuple[int, float, float]:
    """`count` posts through services.publish_posts, `batch` per call (one editor, or a feed).

    Each call is one transaction: the blog's row lock taken once, one event per post, and the
    broadcasts right after the commit. Returns (saves ok, seconds until the last batch was
    committed, seconds until its broadcasts were sent).
    """
    from django.db import close_old_connections, connection, transaction

    from posts import services
    from posts.models import LiveBlog, Post

    close_old_connections()
    blog = LiveBlog.objects.get(pk=blog_id)
    ok, committed = 0, 0.0
    started = time.perf_counter()

    def mark_committed() -> None:
        nonlocal committed
        committed = time.perf_counter() - started

    try:
        for first in range(0, count, batch):
            indexes = range(first, min(first + batch, count))
            with transaction.atomic():
                # Registered first, so it runs first after the commit, before the broadcasts.
                transaction.on_commit(mark_committed)
                services.publish_posts(
                    blog, [Post(headline=f"Fault {label}-{i}", body=f"<p>{i}</p>") for i in indexes]
                )
            ok += len(indexes)
    except Exception as error:  # a failed batch: counted
        print(f"  batch failed: {error!r}"[:200], file=sys.stderr, flush=True)
    finally:
        connection.close()
    return ok, committed, time.perf_counter() - started


async def run(drill) -> Outcome:
    args, out = drill.args, Outcome("burst")
    async with drill.stage("burst", args.burst_readers, slow=args.slow_readers) as (_, blog_id, _, readers):
        base = drill.baseline(readers)
        t0 = time.monotonic()
        if args.burst_batch:
            ok, seconds, sent = await asyncio.to_thread(
                publish_batches, blog_id, args.burst_posts, "burst", args.burst_batch
            )
            out.extra_figures["batch"] = str(args.burst_batch)
            out.extra_figures["broadcasts_sent_s"] = f"{sent:.2f}"
        else:
            ok, seconds = await asyncio.to_thread(
                publish_many, blog_id, args.burst_posts, "burst", 0.0, args.burst_threads
            )
        out.extra_figures["saves_ok"] = f"{ok}/{args.burst_posts}"
        out.extra_figures["publish_s"] = f"{seconds:.2f}"
        out.extra_figures["rate_per_s"] = f"{ok / seconds:.0f}"
        waited = await drill.settle(blog_id, readers, args.settle_seconds)
        out.settle = (
            f"{time.monotonic() - t0:.1f}s" if waited is not None else f">{time.monotonic() - t0:.0f}s"
        )
        out.catchups, requests, _ = drill.catchup_figures(readers, base)
        slow = requests[: args.slow_readers]
        out.extra_figures["catchups_slow"] = f"{sum(slow)}"
        out.extra_figures["catchups_fast"] = f"{sum(requests[args.slow_readers :])}"
        out.extra_figures["pushed_frames"] = str(sum(r.stats.pushed_events for r in readers))
        out.extra_figures["closed_by_server"] = str(sum(len(r.stats.close_codes) for r in readers))
        out.extra_figures["catchup_5xx"] = str(sum(r.stats.catchup_5xx for r in readers))
        out.extra_figures["catchup_other_failures"] = str(
            sum(r.stats.catchup_failures - r.stats.catchup_5xx for r in readers)
        )
        out.extra_figures["catchup_retries"] = str(sum(r.stats.catchup_retries for r in readers))
        out.extra_figures["gap_waits_resolved_by_push"] = str(sum(r.stats.soon_skipped for r in readers))
        await drill.verify(blog_id, readers, out)
    return out
