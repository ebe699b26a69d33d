"""postgres-down: the drill itself (options, the outage, the figures); see the package's docstring."""

from __future__ import annotations

import asyncio
import atexit
import time

from bench.common import tally
from bench.faults.outcome import Outcome
from bench.faults.postgres_down.cluster import ThrowawayPostgres, posts_in_db, prepare_app
from bench.faults.postgres_down.editor import EditingLoop, Editor, Probes, http_probe, socket_probe

NAME = "postgres-down"


def add_arguments(parser) -> None:
    group = parser.add_argument_group("postgres-down (bench/faults/postgres_down/)")
    group.add_argument("--pg-readers", type=int, default=20)
    group.add_argument("--pg-down-seconds", type=float, default=30.0)
    group.add_argument("--pg-edit-interval", type=float, default=0.5, help="s between an editor's saves")
    group.add_argument("--pg-before-seconds", type=float, default=5.0)
    group.add_argument(
        "--pg-after-seconds", type=float, default=10.0, help="saves after the first that works"
    )
    group.add_argument("--pg-recover-timeout", type=float, default=90.0, help="max wait for a save to work")
    group.add_argument("--pg-mode", choices=["stop", "hang"], default="stop")
    group.add_argument(
        "--pg-pool-timeout", help="Daphne's DJANGO_DB_POOL_TIMEOUT, s (default: the app's setting)"
    )


async def wait_complete(url: str, blog_id: int, readers, timeout: float) -> float | None:
    """Seconds until every reader shows exactly the database's posts, or None after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        expected = set(await asyncio.to_thread(posts_in_db, url, blog_id))
        if all(r.present == expected for r in readers):
            return time.monotonic() - started
        await asyncio.sleep(0.5)
    return None


async def run(drill) -> Outcome:
    args = drill.args
    out = Outcome(NAME if args.pg_mode == "stop" else f"{NAME}(hang)")
    pg = ThrowawayPostgres()
    atexit.register(pg.cleanup)  # also if the drill dies on the way (cleanup runs once in effect)
    daphne = None
    editing: EditingLoop | None = None
    readers, tasks = [], []
    try:
        await asyncio.to_thread(pg.init)
        await asyncio.to_thread(pg.start)
        await asyncio.to_thread(pg.create_database)
        extra = {"DATABASE_URL": pg.url, "DJANGO_STATIC_ROOT": await asyncio.to_thread(drill.static_root)}
        if args.pg_pool_timeout:
            extra["DJANGO_DB_POOL_TIMEOUT"] = args.pg_pool_timeout
        setup = await asyncio.to_thread(prepare_app, {**drill.env, **extra})
        blog_id, slug = setup["blog_id"], setup["slug"]
        daphne = await asyncio.to_thread(drill.start_daphne, "pgdown", **extra)
        editor = Editor(daphne.port, blog_id, setup["author_id"])
        await asyncio.to_thread(editor.login)
        readers, tasks = await drill.connect_readers(daphne.port, slug, args.pg_readers)

        editing = EditingLoop(editor, args.pg_edit_interval)
        editing.thread.start()
        await asyncio.sleep(args.pg_before_seconds)
        await wait_complete(pg.url, blog_id, readers, 15)

        closes_before = [len(r.stats.close_codes) for r in readers]
        pings_before = sum(r.stats.pings for r in readers)
        went_down = time.monotonic()
        await asyncio.to_thread(pg.stop if args.pg_mode == "stop" else pg.pause)
        down_at = time.monotonic()
        await asyncio.sleep(args.pg_down_seconds / 3)
        probes = Probes()
        wait = args.pg_down_seconds / 2  # answered (or given up) while the database is still down
        probes.page, probes.catchup, probes.socket = await asyncio.gather(
            asyncio.to_thread(http_probe, daphne.port, f"/live/{slug}/", "text/html", wait),
            asyncio.to_thread(
                http_probe, daphne.port, f"/live/{slug}/events/?after=0", "application/json", wait
            ),
            socket_probe(daphne.port, slug, wait),
        )
        remaining = args.pg_down_seconds - (time.monotonic() - went_down)
        if remaining > 0:
            await asyncio.sleep(remaining)
        open_at_end = sum(r.connected.is_set() for r in readers)
        closed_during = [
            code for r, n in zip(readers, closes_before, strict=True) for code in r.stats.close_codes[n:]
        ]
        pings_during = sum(r.stats.pings for r in readers) - pings_before
        back_at = time.monotonic()
        await asyncio.to_thread(pg.start if args.pg_mode == "stop" else pg.resume)
        up_at = time.monotonic()

        recovered = None
        while time.monotonic() - up_at < args.pg_recover_timeout:
            recovered = editing.first_ok_after(back_at)
            if recovered is not None:
                break
            await asyncio.sleep(0.2)
        if recovered is not None:
            await asyncio.sleep(args.pg_after_seconds)
        await asyncio.to_thread(editing.stop)
        # Readers were complete before the outage and get every save since by push or catch-up:
        # settle is how long after the editor's last save they all show exactly the database's posts.
        waited = await wait_complete(pg.url, blog_id, readers, args.settle_seconds)
        out.settle = f"{waited:.1f}s" if waited is not None else f">{args.settle_seconds:.0f}s"

        # Figures ------------------------------------------------------------------------------
        in_db = await asyncio.to_thread(posts_in_db, pg.url, blog_id)
        attempts = list(editing.attempts)
        saved = set(in_db.values())
        told_ok = {a.label for a in attempts if a.ok}
        before = [a for a in attempts if a.at < went_down]
        during = [a for a in attempts if went_down <= a.at < back_at]
        after = [a for a in attempts if a.at >= back_at]
        false_saved = told_ok - saved
        unreported = saved - told_ok
        http_500 = sum(a.status == "500" for a in attempts)
        # While it is down an editor must hear "not saved" (503), unless the save really went through
        # (sent just before the restart, answered after it).
        # A hung server may also leave a request without any answer (the client gives up).
        allowed = {"503"} if args.pg_mode == "stop" else {"503", "timeout"}
        wrong_answers = [a for a in during if not (a.status in allowed or (a.ok and a.label in saved))]
        f = out.extra_figures
        f["mode"] = args.pg_mode
        if args.pg_pool_timeout:
            f["pool_timeout"] = args.pg_pool_timeout
        f["pg_down_s"] = f"{back_at - went_down:.1f}"
        f["saves_ok"] = f"{len(told_ok)}/{len(attempts)}"
        f["db_posts_by_editor"] = str(len(saved))
        f["false_saved"] = str(len(false_saved))
        f["unreported"] = str(len(unreported))
        f["before_http"] = tally([a.status for a in before])
        f["outage_http"] = tally([a.status for a in during])
        f["outage_503_retry_after"] = f"{sum(a.retry_after for a in during if a.status == '503')}"
        f["outage_answer_s_max"] = f"{max((a.seconds for a in during), default=0):.1f}"
        f["after_http"] = tally([a.status for a in after])
        f["http_500"] = str(http_500)
        f["probe_page"] = probes.page
        f["probe_catchup"] = probes.catchup
        f["probe_new_socket"] = probes.socket
        f["sockets_open_end_of_outage"] = f"{open_at_end}/{len(readers)}"
        f["closed_during_outage"] = tally([str(c) for c in closed_during])
        f["pings_during_outage"] = str(pings_during)
        f["recover_s"] = f"{recovered.at + recovered.seconds - up_at:.1f}" if recovered else "never"
        f["pg_stop_s"] = f"{down_at - went_down:.1f}"
        out.catchups = f"{sum(r.stats.catchup_requests for r in readers)}"

        expected = set(in_db)
        out.readers = len(readers)
        out.posts_db = len(expected)
        out.complete = sum(r.present == expected for r in readers)
        out.missing = sum(len(expected - r.present) for r in readers)
        out.extra = sum(len(r.present - expected) for r in readers)
        out.ok = (
            out.complete == len(readers)
            and out.missing == 0
            and out.extra == 0
            and not false_saved
            and http_500 == 0
            and recovered is not None
            and not closed_during
            and not wrong_answers
        )
    finally:
        if editing is not None and editing.thread.is_alive():
            await asyncio.to_thread(editing.stop)
        await drill.stop_readers(readers, tasks)
        if daphne is not None:
            await asyncio.to_thread(daphne.stop)
        await asyncio.to_thread(pg.cleanup)
    return out
