"""hung-redis and hung-postgres: the drills themselves (options, the hang, the figures)."""

from __future__ import annotations

import asyncio
import atexit
import time
import uuid
from collections.abc import Awaitable, Callable

from bench.common import Managed, free_port, make_editor, redis_server, tally
from bench.faults.hung.traffic import DeskEditor, Traffic, saves, wait_figures
from bench.faults.outcome import Outcome
from bench.faults.postgres_down.cluster import Hang, ThrowawayPostgres, posts_in_db, prepare_app
from bench.faults.postgres_down.editor import socket_probe
from bench.faults.publishing import db_state, fresh_blog

REDIS = "hung-redis"
POSTGRES = "hung-postgres"


def add_arguments(parser) -> None:
    group = parser.add_argument_group("hung-redis, hung-postgres (bench/faults/hung/)")
    group.add_argument("--hung-readers", type=int, default=20)
    group.add_argument("--hung-seconds", type=float, default=20.0, help="how long the service is stopped")
    group.add_argument("--hung-interval", type=float, default=0.5, help="s between an editor's saves")
    group.add_argument("--hung-before-seconds", type=float, default=5.0)
    group.add_argument("--hung-after-seconds", type=float, default=10.0)
    group.add_argument(
        "--hung-bound", type=float, default=10.0, help="FAIL if a request waited longer while it hung, s"
    )


async def timed_socket_probe(port: int, slug: str, timeout: float) -> str:
    started = time.monotonic()
    answer = await socket_probe(port, slug, timeout)
    return f"{answer}@{time.monotonic() - started:.1f}s"


async def hang_phase(
    drill, out: Outcome, hang: Hang, port: int, slug: str, traffic: Traffic, readers, other_slug: str = ""
) -> tuple:
    """Traffic before, during and after the hang; (went, back) moments and the figures so far."""
    args = drill.args
    traffic.start()
    await asyncio.sleep(args.hung_before_seconds)
    pings_before = sum(r.stats.pings for r in readers)
    closes_before = [len(r.stats.close_codes) for r in readers]
    pushed_before = sum(r.stats.pushed_events for r in readers)
    went = time.monotonic()
    try:
        await asyncio.to_thread(hang.pause)
        await asyncio.sleep(args.hung_seconds / 3)
        # A new reader of the blog, and (hung-redis) the first reader of another blog on this
        # process, whose hub must join that blog's group in Redis.
        probes = {"probe_new_socket": slug, "probe_other_blog_socket": other_slug}
        answers = await asyncio.gather(
            *(timed_socket_probe(port, s, args.hung_seconds / 2) for s in probes.values() if s)
        )
        out.extra_figures.update(zip([k for k, s in probes.items() if s], answers, strict=True))
        remaining = args.hung_seconds - (time.monotonic() - went)
        if remaining > 0:
            await asyncio.sleep(remaining)
    finally:
        back = time.monotonic()
        await asyncio.to_thread(hang.resume)
    f = out.extra_figures
    f["hung_s"] = f"{back - went:.1f}"
    f["pings_during"] = str(sum(r.stats.pings for r in readers) - pings_before)
    f["pushes_during"] = str(sum(r.stats.pushed_events for r in readers) - pushed_before)
    closed = [code for r, n in zip(readers, closes_before, strict=True) for code in r.stats.close_codes[n:]]
    f["sockets_closed_during"] = tally([str(c) for c in closed])
    pushed_back = sum(r.stats.pushed_events for r in readers)
    await asyncio.sleep(args.hung_after_seconds)
    await asyncio.to_thread(traffic.stop)
    f["pushes_after"] = str(sum(r.stats.pushed_events for r in readers) - pushed_back)
    return went, back


def judge(
    out: Outcome, traffic: Traffic, went: float, back: float, in_db: set[str], bound: float, during_ok
) -> bool:
    """The figures every hung drill prints, and whether the answers were the right ones."""
    during = traffic.overlapping(went, back)
    everything = list(traffic.answers)
    f = out.extra_figures
    f.update(wait_figures(during, "hung"))
    f["hung_saves"] = saves(during)
    told_saved = {a.label for a in everything if a.kind == "publish" and a.saved}
    false_saved = told_saved - in_db
    f["saves_ok"] = f"{len(told_saved)}/{sum(a.kind == 'publish' for a in everything)}"
    f["false_saved"] = str(len(false_saved))
    f["unreported"] = str(len(in_db - told_saved))  # committed, but the editor heard otherwise
    f["http_500"] = str(sum(a.status == "500" for a in everything))
    f["no_answer"] = str(sum(a.status in {"timeout", "refused"} for a in everything))
    f["wait_max_s"] = f"{max((a.seconds for a in everything), default=0):.1f}"
    # Asked while it hung and answered before it went on (a request sent just before SIGCONT may
    # rightly be served after it).
    readyz_late = [a for a in during if a.kind == "readyz" and a.at >= went + 1.5 and a.at + a.seconds < back]
    # A read served in full before the stop took hold, or after SIGCONT, is not wrong.
    wrong = [
        a
        for a in during
        if not during_ok(a, in_db) and not (a.status == "200" and (a.at < went or a.at + a.seconds >= back))
    ]
    f["wrong_answers"] = tally([f"{a.kind}:{a.status}" for a in wrong])
    return (
        not false_saved
        and f["http_500"] == "0"
        and f["no_answer"] == "0"
        and max((a.seconds for a in during), default=0) <= bound
        and bool(readyz_late)
        and all(a.status == "503" and a.seconds <= 2.0 for a in readyz_late)
        and not wrong
    )


async def run_redis(drill) -> Outcome:
    """Redis stopped under an editor, readers and probes; PostgreSQL answers throughout."""
    args, out = drill.args, Outcome(REDIS)
    redis = redis_server(free_port(), drill.logdir)
    redis.name = "redis-hung"
    hang = Hang(lambda: [redis.process.pid] if redis.process else [])
    daphne, traffic, readers, tasks = None, None, [], []
    try:
        await asyncio.to_thread(redis.start)
        username, password = f"hung-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
        author_id = await asyncio.to_thread(make_editor, username, password, "Hung Drill")
        blog_id, slug = await asyncio.to_thread(fresh_blog, "hung-redis")
        _, other_slug = await asyncio.to_thread(fresh_blog, "hung-redis-other")
        daphne = await asyncio.to_thread(
            drill.start_daphne,
            "hung-redis",
            REDIS_URL=f"redis://127.0.0.1:{redis.port}/0",
            DJANGO_STATIC_ROOT=await asyncio.to_thread(drill.static_root),
        )
        editor = DeskEditor(daphne.port, blog_id, author_id, username, password)
        await asyncio.to_thread(editor.login)
        readers, tasks = await drill.connect_readers(daphne.port, slug, args.hung_readers)
        traffic = Traffic(editor, daphne.port, slug, args.hung_interval)
        went, back = await hang_phase(drill, out, hang, daphne.port, slug, traffic, readers, other_slug)
        await settle(out, readers, args.settle_seconds, lambda: ids_in_drill_db(blog_id))
        posts = await asyncio.to_thread(headlines_in_drill_db, blog_id)

        def during_ok(answer, in_db) -> bool:
            # The database answers: every save is saved (the push may wait), every read served.
            if answer.kind == "publish":
                return answer.saved
            return answer.kind == "readyz" or answer.status == "200"

        out.ok = judge(out, traffic, went, back, posts, args.hung_bound, during_ok)
        out.ok = await verify(out, readers, await asyncio.to_thread(ids_in_drill_db, blog_id)) and out.ok
    finally:
        await stop_drill(drill, hang, traffic, readers, tasks, daphne)
        await asyncio.to_thread(redis.stop)
    return out


async def run_postgres(drill) -> Outcome:
    """A throwaway PostgreSQL stopped under an editor, readers and probes; Redis answers throughout."""
    args, out = drill.args, Outcome(POSTGRES)
    pg = ThrowawayPostgres()
    atexit.register(pg.cleanup)
    hang = pg.hang
    daphne, traffic, readers, tasks = None, None, [], []
    try:
        await asyncio.to_thread(pg.init)
        await asyncio.to_thread(pg.start)
        await asyncio.to_thread(pg.create_database)
        extra = {"DATABASE_URL": pg.url, "DJANGO_STATIC_ROOT": await asyncio.to_thread(drill.static_root)}
        setup = await asyncio.to_thread(prepare_app, {**drill.env, **extra})
        blog_id, slug = setup["blog_id"], setup["slug"]
        daphne = await asyncio.to_thread(drill.start_daphne, "hung-postgres", **extra)
        editor = DeskEditor(daphne.port, blog_id, setup["author_id"])  # prepare_app's editor
        await asyncio.to_thread(editor.login)
        readers, tasks = await drill.connect_readers(daphne.port, slug, args.hung_readers)
        traffic = Traffic(editor, daphne.port, slug, args.hung_interval)
        went, back = await hang_phase(drill, out, hang, daphne.port, slug, traffic, readers)
        await settle(out, readers, args.settle_seconds, lambda: set(posts_in_db(pg.url, blog_id)))
        in_db = await asyncio.to_thread(posts_in_db, pg.url, blog_id)

        def during_ok(answer, headlines) -> bool:
            # Nothing can be saved or read: 503 (with Retry-After), unless a save went through
            # just before the stop and says so truthfully.
            if answer.kind == "publish" and answer.saved:
                return answer.label in headlines
            return answer.status == "503" and (answer.kind == "readyz" or answer.retry_after)

        out.ok = judge(out, traffic, went, back, set(in_db.values()), args.hung_bound, during_ok)
        out.ok = await verify(out, readers, set(in_db)) and out.ok
    finally:
        await stop_drill(drill, hang, traffic, readers, tasks, daphne)
        await asyncio.to_thread(pg.cleanup)
    return out


async def stop_drill(
    drill, hang: Hang, traffic: Traffic | None, readers, tasks, daphne: Managed | None
) -> None:
    """What a hung drill started around its service, stopped (the service itself is the caller's)."""
    if traffic is not None:
        await asyncio.to_thread(traffic.stop)
    hang.resume()
    await drill.stop_readers(readers, tasks)
    if daphne is not None:
        await asyncio.to_thread(daphne.stop)


def ids_in_drill_db(blog_id: int) -> set[int]:
    return db_state(blog_id)[0]


def headlines_in_drill_db(blog_id: int) -> set[str]:
    from django.db import close_old_connections

    from posts.models import Post

    close_old_connections()
    return set(Post.objects.filter(live_blog_id=blog_id).visible().values_list("headline", flat=True))


async def settle(out: Outcome, readers, timeout: float, expected: Callable[[], set[int]]) -> None:
    """settle = seconds from the editor's last save until every reader shows exactly the DB's posts."""
    since = time.monotonic()
    while time.monotonic() - since < timeout:
        ids = await asyncio.to_thread(expected)
        if all(r.present == ids for r in readers):
            out.settle = f"{time.monotonic() - since:.1f}s"
            return
        await asyncio.sleep(0.5)
    out.settle = f">{timeout:.0f}s"


async def verify(out: Outcome, readers, expected: set[int]) -> bool:
    out.readers = len(readers)
    out.posts_db = len(expected)
    out.complete = sum(r.present == expected for r in readers)
    out.missing = sum(len(expected - r.present) for r in readers)
    out.extra = sum(len(r.present - expected) for r in readers)
    out.catchups = str(sum(r.stats.catchup_requests for r in readers))
    return out.complete == len(readers) and out.missing == 0 and out.extra == 0


RUNS: dict[str, Callable[..., Awaitable[Outcome]]] = {REDIS: run_redis, POSTGRES: run_postgres}
