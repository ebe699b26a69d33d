"""Scenario "archive": the blog is archived with readers connected.

--readers readers; services.archive_blog; all must get blog.archived and be closed (and not
reconnect); then services.publish_post must raise BlogClosedError.
"""

from __future__ import annotations

import asyncio
import time

from bench.faults.outcome import Outcome
from bench.faults.publishing import db_state, publish_many


def archive_blog(blog_id: int) -> None:
    from django.db import close_old_connections

    from posts import services
    from posts.models import LiveBlog

    close_old_connections()
    services.archive_blog(LiveBlog.objects.get(pk=blog_id))


def write_after_archive(blog_id: int) -> str:
    from django.db import close_old_connections

    from posts import services
    from posts.models import LiveBlog, Post

    close_old_connections()
    blog = LiveBlog.objects.get(pk=blog_id)
    try:
        services.publish_post(Post(live_blog=blog, headline="After archive", body="<p>no</p>"))
    except services.BlogClosedError:
        return "BlogClosedError"
    except Exception as error:
        return f"other error {type(error).__name__}"
    return "ACCEPTED"


async def run(drill) -> Outcome:
    args, out = drill.args, Outcome("archive")
    async with drill.stage("archive", args.readers) as (_, blog_id, _, readers):
        await asyncio.to_thread(publish_many, blog_id, 3, "before")
        await drill.settle(blog_id, readers, 20)
        connects = sum(r.stats.connects for r in readers)
        t0 = time.monotonic()
        await asyncio.to_thread(archive_blog, blog_id)
        deadline = time.monotonic() + args.settle_seconds
        while time.monotonic() < deadline and not all(
            r.archived and not r.connected.is_set() for r in readers
        ):
            await asyncio.sleep(0.1)
        out.settle = f"{time.monotonic() - t0:.1f}s"
        await asyncio.sleep(2)  # would anyone reconnect?
        out.extra_figures["got_archived"] = f"{sum(r.archived for r in readers)}/{len(readers)}"
        out.extra_figures["closed"] = f"{sum(not r.connected.is_set() for r in readers)}/{len(readers)}"
        codes: dict[int, int] = {}
        for r in readers:
            for code in r.stats.close_codes:
                codes[code] = codes.get(code, 0) + 1
        out.extra_figures["close_codes"] = ",".join(f"{c}x{n}" for c, n in sorted(codes.items())) or "none"
        out.extra_figures["reconnects_after"] = str(sum(r.stats.connects for r in readers) - connects)
        write = await asyncio.to_thread(write_after_archive, blog_id)
        out.extra_figures["write_after_archive"] = write
        _, _, state = await asyncio.to_thread(db_state, blog_id)
        out.extra_figures["db_state"] = state
        await drill.verify(blog_id, readers, out)
        out.ok = out.ok and write == "BlogClosedError" and all(r.archived for r in readers)
    return out
