"""Scenarios "redis-outage" and "redis-wipe": the channel layer's Redis goes away under readers.

- redis-outage: Redis stopped (SIGTERM) for --outage-seconds while the editor publishes
  --outage-posts posts in this process through posts.services; Redis restarted (empty) on the
  same port; then --after-posts more. Counts saves ok/failed and logged broadcast failures.
- redis-wipe: Redis restarted with its memory wiped (or FLUSHALL, --wipe-mode) under connected
  readers; then --wipe-posts posts. Its Daphne gets LIVEBLOG_GROUP_REFRESH_SECONDS
  (--group-refresh).
"""

from __future__ import annotations

import asyncio
import time

from bench.faults.outcome import Outcome
from bench.faults.publishing import publish_many


async def outage(drill) -> Outcome:
    args, out = drill.args, Outcome("redis-outage")
    async with drill.stage("outage", args.outage_readers) as (daphne, blog_id, slug, readers):
        await asyncio.to_thread(publish_many, blog_id, 5, "before")
        await drill.settle(blog_id, readers, 15)
        base = drill.baseline(readers)
        pushed_before = sum(r.stats.pushed_events for r in readers)
        failures_before = drill.broadcast_failures.count
        t0 = time.monotonic()
        await asyncio.to_thread(drill.redis.stop)
        interval = args.outage_seconds / max(args.outage_posts, 1)
        ok, seconds = await asyncio.to_thread(publish_many, blog_id, args.outage_posts, "outage", interval)
        remaining = args.outage_seconds - (time.monotonic() - t0)
        if remaining > 0:
            await asyncio.sleep(remaining)
        down = time.monotonic() - t0
        await asyncio.to_thread(drill.redis.start)
        restarted = time.monotonic()
        out.extra_figures["saves_ok"] = f"{ok}/{args.outage_posts}"
        out.extra_figures["broadcast_failures_logged"] = str(drill.broadcast_failures.count - failures_before)
        out.extra_figures["publish_s"] = f"{seconds:.1f}"
        out.extra_figures["redis_down_s"] = f"{down:.1f}"
        out.extra_figures["5xx"] = "n/a(in-process)"
        pushed_mid = sum(r.stats.pushed_events for r in readers)
        await asyncio.sleep(2)
        await asyncio.to_thread(publish_many, blog_id, args.after_posts, "after")
        await asyncio.sleep(2)
        pushed_after = sum(r.stats.pushed_events for r in readers) - pushed_mid
        out.extra_figures["pushes_after_restart"] = f"{pushed_after}/{args.after_posts * len(readers)}"
        out.extra_figures["pushes_during_outage"] = str(pushed_mid - pushed_before)
        await drill.settle_or_probe(blog_id, slug, daphne.port, readers, out, restarted)
        out.catchups, _, fails = drill.catchup_figures(readers, base)
        out.extra_figures["catchup_failures"] = str(sum(fails))
        await drill.verify(blog_id, readers, out)
    return out


async def wipe(drill) -> Outcome:
    args = drill.args
    out = Outcome(f"redis-wipe({args.wipe_mode})")
    extra = {"LIVEBLOG_GROUP_REFRESH_SECONDS": str(args.group_refresh)}
    async with drill.stage("wipe", args.wipe_readers, **extra) as (daphne, blog_id, slug, readers):
        await asyncio.to_thread(publish_many, blog_id, 5, "before")
        await drill.settle(blog_id, readers, 15)
        base = drill.baseline(readers)
        if args.wipe_mode == "restart":
            await asyncio.to_thread(drill.redis.stop)
            await asyncio.to_thread(drill.redis.start)
        else:
            import redis

            client = redis.Redis.from_url(drill.redis_url, socket_connect_timeout=2)
            client.flushall()  # the drill's throwaway Redis, never the shared one
            client.close()
        wiped = time.monotonic()
        await asyncio.sleep(2)  # the hub's receive loop notices and reconnects (restart mode)
        pushed = sum(r.stats.pushed_events for r in readers)
        ok, _ = await asyncio.to_thread(publish_many, blog_id, args.wipe_posts, "wipe", 0.05)
        out.extra_figures["saves_ok"] = f"{ok}/{args.wipe_posts}"
        await asyncio.sleep(2)
        out.extra_figures["pushes_after_wipe"] = (
            f"{sum(r.stats.pushed_events for r in readers) - pushed}/{args.wipe_posts * len(readers)}"
        )
        await drill.settle_or_probe(blog_id, slug, daphne.port, readers, out, wiped)
        out.catchups, _, _ = drill.catchup_figures(readers, base)
        await drill.verify(blog_id, readers, out)
    return out
