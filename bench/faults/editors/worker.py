"""One editor of the editors drill, a process of its own: `python -m bench.faults.editors.worker`.

Started by bench/faults/editors/processes.py: sets up Django, prints "ready", waits for "go" on
stdin, publishes through posts.services (new posts, and edits, important toggles and deletes of
its own posts), and prints `result {json}` with its counts.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import select
import sys
import time

from bench.common import count_log, setup_django


def editor_main(argv: list[str]) -> int:
    """One editor: waits for "go" on stdin, publishes, prints `result {json}`."""
    parser = argparse.ArgumentParser(prog="python -m bench.faults.editors.worker")
    parser.add_argument("--blog-id", type=int, required=True)
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--posts", type=int, required=True)
    parser.add_argument("--seed", default="1")
    parser.add_argument("--edit-rate", type=float, default=0.15)
    parser.add_argument("--important-rate", type=float, default=0.10)
    parser.add_argument("--delete-rate", type=float, default=0.05)
    parser.add_argument("--interval", type=float, default=0.0)
    parser.add_argument("--go-timeout", type=float, default=180.0)
    args = parser.parse_args(argv)

    setup_django(migrate=False)
    from django.db import connection

    from posts import services
    from posts.models import LiveBlog, Post

    failures = count_log("posts.broadcast")

    def over_capacity(record: logging.LogRecord) -> int:
        """channels_redis drops a group message for a full channel (its capacity, 100 by default)
        and only says so at INFO, in the sending process: "%s of %s channels over capacity"."""
        return int(record.args[0]) if "over capacity" in str(record.msg) and record.args else 0

    layer_full = count_log("channels_redis.core", logging.INFO, over_capacity)

    rng = random.Random(args.seed)
    blog = LiveBlog.objects.get(pk=args.blog_id)
    print("ready", flush=True)
    readable, _, _ = select.select([sys.stdin], [], [], args.go_timeout)
    if not readable or sys.stdin.readline().strip() != "go":
        return 2

    counts = {"created": 0, "edited": 0, "important": 0, "deleted": 0, "failed": 0}
    own: list[int] = []  # this editor's visible posts, oldest first
    first_error = ""
    started, cpu = time.monotonic(), time.process_time()

    def pick() -> int:
        # Mostly a recent post (a typo, a new detail), sometimes an older one.
        recent = own[-10:]
        return rng.choice(recent) if rng.random() < 0.7 else rng.choice(own)

    def body(n: int, note: str = "") -> str:
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 60)))
        return (
            f"<p>Redaktion {args.index}, Meldung {n}{note}: {words}.</p><p><strong>{words[:40]}</strong></p>"
        )

    def attempt(kind: str, change) -> None:
        nonlocal first_error
        try:
            change()
            counts[kind] += 1
        except Exception as error:  # counted; the drill fails the run
            counts["failed"] += 1
            first_error = first_error or f"{kind}: {error!r}"[:300]

    def publish(n: int) -> None:
        post = services.publish_post(
            Post(live_blog=blog, headline=f"E{args.index} Meldung {n}", body=body(n))
        )
        own.append(post.pk)

    def edit() -> None:
        post = Post.objects.select_related("live_blog").get(pk=pick())
        post.headline = f"{post.headline.split(' (')[0]} (v{post.version + 1})"
        post.body = body(post.pk, f", v{post.version + 1}")
        services.update_post(post, expected_version=post.version)

    def toggle_important() -> None:
        post = Post.objects.select_related("live_blog").get(pk=pick())
        services.set_important(post, not post.is_important)

    def delete() -> None:
        pk = pick()
        services.delete_post(Post.objects.select_related("live_blog").get(pk=pk))
        own.remove(pk)

    try:
        for n in range(args.posts):
            begun = time.monotonic()
            attempt("created", lambda n=n: publish(n))
            for kind, rate, change in (
                ("edited", args.edit_rate, edit),
                ("important", args.important_rate, toggle_important),
                ("deleted", args.delete_rate, delete),
            ):
                if own and rng.random() < rate:
                    attempt(kind, change)
            if args.interval:
                time.sleep(max(0.0, args.interval - (time.monotonic() - begun)))
    finally:
        connection.close()
    result = {
        **counts,
        "broadcast_failures": failures.count,
        "layer_full_drops": layer_full.count,
        "seconds": time.monotonic() - started,
        "cpu_s": time.process_time() - cpu,
        "first_error": first_error,
    }
    print("result " + json.dumps(result), flush=True)
    return 0


WORDS = [
    *("Polizei", "Feuerwehr", "Bahnhof", "Stadtrat", "Sprecher", "Lage", "Zeugen", "Innenstadt"),
    *("Umleitung", "Ermittlungen", "Pressekonferenz", "Verletzte", "Einsatz", "Hubschrauber"),
    *("Straße", "gesperrt", "Nachmittag", "bestätigt", "Angaben"),
]


if __name__ == "__main__":
    sys.exit(editor_main(sys.argv[1:]))
