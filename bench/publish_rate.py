"""How fast the write path publishes into one blog: the ceiling for a burst, without readers.

    .venv/bin/python -m bench.publish_rate --processes 1,4,8 --posts 500
    .venv/bin/python -m bench.publish_rate --smoke    # 1 and 2 processes, 10 posts (what CI runs)

Each editor is a process of its own (as web workers are) that publishes through
`posts.services.publish_post`: the blog's row lock, the post, its Event with the next seq, the
commit, then the broadcast (rendered once, sent to Redis when REDIS_URL is set). The posts of one
blog are serialized by its row lock, so that seq order is commit order; more processes only help
while they have CPU for their rendering. No Daphne and no readers run: what they cost comes on top.
Uses the database of --database-url (default: `liveblog_faults` on the local PostgreSQL, created and
migrated here) and a fresh live blog per measurement. The clock starts once every editor has set up
Django and loaded the blog.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import time
import uuid
from datetime import UTC, datetime

from bench.common import check_local, ensure_postgres_database, make_blog, setup_django, smoke_defaults


def setup(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_DEBUG", "0")
    os.environ.setdefault("DJANGO_SECRET_KEY", "publish-rate-" + uuid.uuid4().hex)
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "127.0.0.1")
    setup_django(migrate=False)


def editor(database_url: str, blog_id: int, count: int, ready, go, done) -> None:
    setup(database_url)
    from posts import services
    from posts.models import LiveBlog, Post

    blog = LiveBlog.objects.get(pk=blog_id)
    ready.put(os.getpid())
    go.wait(60)
    for index in range(count):
        services.publish_post(Post(live_blog=blog, headline=f"Burst {index}", body=f"<p>{index}</p>"))
    done.put(os.getpid())


def measure(database_url: str, processes: int, posts: int) -> tuple[float, int]:
    from posts.models import Post

    blog_id, _ = make_blog("rate", "", kicker="", title="Publish rate")
    ready, go, done = mp.Queue(), mp.Event(), mp.Queue()
    shares = [posts // processes + (1 if n < posts % processes else 0) for n in range(processes)]
    workers = [
        mp.Process(target=editor, args=(database_url, blog_id, share, ready, go, done)) for share in shares
    ]
    for worker in workers:
        worker.start()
    for _ in workers:  # every editor has set up Django and loaded the blog
        ready.get(timeout=60)
    started = time.perf_counter()
    go.set()
    for worker in workers:
        worker.join(120)
    seconds = time.perf_counter() - started
    for worker in workers:
        if worker.is_alive():
            worker.kill()
    return seconds, Post.objects.filter(live_blog_id=blog_id).count()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.publish_rate", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--smoke", action="store_true", help="1 and 2 processes, 10 posts (CI's smoke run)")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/liveblog_faults")
    parser.add_argument("--processes", default="1,4,8", help="comma-separated editor process counts")
    parser.add_argument("--posts", type=int, default=500)
    args = smoke_defaults(parser, {"processes": "1,2", "posts": 10})
    if error := check_local(args.database_url):
        parser.error(error)
    if args.database_url.startswith("postgres"):
        ensure_postgres_database(args.database_url)
    mp.set_start_method("spawn")  # no inherited database connections
    setup(args.database_url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    load = os.getloadavg()[0]
    print(
        f"bench/publish_rate.py {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores; "
        f"{platform.platform()}; load average {load:.2f} at start; "
        f"Redis layer: {'yes' if os.environ.get('REDIS_URL') else 'no (in-memory)'}"
    )
    complete = True
    for processes in (int(n) for n in args.processes.split(",")):
        seconds, stored = measure(args.database_url, processes, args.posts)
        complete = complete and stored == args.posts
        print(
            f"{processes} editor process(es): {stored}/{args.posts} posts in {seconds:.2f} s = "
            f"{stored / seconds:.0f} posts/s"
        )
    raise SystemExit(0 if complete else 1)


if __name__ == "__main__":
    main()
