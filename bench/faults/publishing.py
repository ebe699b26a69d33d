"""The drill's editors in its own process: posts through posts.services, the blog as the DB has it."""

from __future__ import annotations

import sys
import threading
import time

from bench.common import make_blog


def fresh_blog(tag: str) -> tuple[int, str]:
    return make_blog("faults", tag, kicker="Faults")


def publish(blog_id: int, label: str) -> bool:
    """One post through services; True when the save committed (whatever the broadcast did)."""
    from django.db import close_old_connections

    from posts import services
    from posts.models import LiveBlog, Post

    close_old_connections()
    try:
        blog = LiveBlog.objects.get(pk=blog_id)
        services.publish_post(Post(live_blog=blog, headline=f"Fault {label}", body=f"<p>{label}</p>"))
    except Exception as error:  # a save that failed: counted
        print(f"  save {label} failed: {error!r}"[:200], file=sys.stderr, flush=True)
        return False
    return True


def publish_many(
    blog_id: int, count: int, label: str, interval: float = 0.0, threads: int = 1
) -> tuple[int, float]:
    """`count` posts from `threads` editors, each pausing `interval` s; (saves ok, seconds)."""
    from django.db import connection

    ok = 0
    lock = threading.Lock()
    counter = iter(range(count))

    def editor() -> None:
        nonlocal ok
        try:
            while True:
                with lock:
                    index = next(counter, None)
                if index is None:
                    return
                started = time.monotonic()
                if publish(blog_id, f"{label}-{index}"):
                    with lock:
                        ok += 1
                if interval:
                    time.sleep(max(0.0, interval - (time.monotonic() - started)))
        finally:
            connection.close()

    started = time.perf_counter()
    workers = [threading.Thread(target=editor) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return ok, time.perf_counter() - started


def db_state(blog_id: int) -> tuple[set[int], int, str]:
    """(visible post ids, last_seq, state) from the database."""
    from django.db import close_old_connections

    from posts.models import LiveBlog, Post

    close_old_connections()
    blog = LiveBlog.objects.get(pk=blog_id)
    ids = set(Post.objects.filter(live_blog_id=blog_id).visible().values_list("pk", flat=True))
    return ids, blog.last_seq, blog.state
