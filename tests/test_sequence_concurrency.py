"""Event seq under concurrent writers (PostgreSQL): gapless per blog, and seq order is commit order.

Several threads, each with its own database connection, write into the same live blog at once.
Besides the end state (seqs exactly 1..N, one event per change), each write checks *inside its own
transaction*, right after the service assigned its seq and while the blog's row lock is still
held, that the events it can see are exactly 1..seq. Under READ COMMITTED every statement sees
what was committed before it started, so this proves that every smaller seq had already committed
when this one was assigned — hence commit(seq - 1) happened before commit(seq), for every seq. That
is the property readers rely on, and with a correct implementation it holds on every run (it is
not a timing observation). A broken implementation (no lock, seq from a database sequence, …)
makes it fail as soon as two writers overlap.

The order in which `transaction.on_commit` callbacks of *different* threads run is deliberately not
asserted: thread A may commit seq 5 and be descheduled before its callback runs while thread B
commits seq 6 and runs its callback. What is asserted is deterministic: exactly one broadcast per
event, and when the broadcast of seq N runs, events 1..N are all committed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, transaction
from django.db.models import Count, Max

from posts import broadcast, services
from posts.models import Event, LiveBlog, Post
from tests.factories import LiveBlogFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 4
POSTS_PER_THREAD = 50
ROUNDS = 12  # mixed test: operations per thread = 3 or 4 per round


@pytest.fixture
def broadcasts(monkeypatch):
    """(event id, seq, committed events with seq <= it) per broadcast, in the order they ran.

    services register `broadcast.send_event` with on_commit, so it runs after each commit, in the
    committing thread, on that thread's connection.
    """
    seen: list[tuple[int, int, int]] = []
    lock = threading.Lock()

    def record(event_id: int) -> None:
        event = Event.objects.get(pk=event_id)
        committed = Event.objects.filter(live_blog_id=event.live_blog_id, seq__lte=event.seq).count()
        with lock:
            seen.append((event_id, event.seq, committed))

    monkeypatch.setattr(broadcast, "send_event", record)
    return seen


def committed_prefix_check(blog_id: int) -> int:
    """Inside the writer's transaction, after the service: the seqs visible are exactly 1..last_seq.

    Returns the seq this transaction assigned (the blog's last_seq as this transaction sees it;
    nobody else can change it while we hold the row lock).
    """
    last_seq = LiveBlog.objects.values_list("last_seq", flat=True).get(pk=blog_id)
    visible = Event.objects.filter(live_blog_id=blog_id).aggregate(n=Count("pk"), top=Max("seq"))
    # seq is unique per blog and >= 1, so count == max == last_seq means exactly {1, ..., last_seq}.
    assert visible == {"n": last_seq, "top": last_seq}, (
        f"seq {last_seq} assigned while only {visible['n']} events (max {visible['top']}) were committed"
    )
    return last_seq


def run_threads(worker: Callable[[int, threading.Barrier], list]) -> list[list]:
    """Run `worker(index, barrier)` in THREADS threads, each on its own connection; their results."""
    barrier = threading.Barrier(THREADS, timeout=30)

    def run(index: int) -> list:
        try:
            barrier.wait()
            return worker(index)
        except BaseException:
            barrier.abort()  # let the other threads fail fast instead of waiting at the barrier
            raise
        finally:
            connection.close()  # this thread's connection; the test database is dropped later

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = [pool.submit(run, index) for index in range(THREADS)]
        return [future.result(timeout=120) for future in futures]


def test_concurrent_publishing_keeps_seq_gapless_and_in_commit_order(broadcasts):
    blog = LiveBlogFactory()

    def publish_many(index: int) -> list[tuple[int, int]]:
        published = []
        for n in range(POSTS_PER_THREAD):
            with transaction.atomic():
                post = services.publish_post(
                    Post(live_blog=blog, headline=f"Thread {index} Meldung {n}"), authors=[]
                )
                seq = committed_prefix_check(blog.pk)
            # Committed now: the post and its event are visible to everyone.
            published.append((post.pk, seq))
        return published

    results = run_threads(publish_many)

    total = THREADS * POSTS_PER_THREAD
    blog.refresh_from_db()
    assert blog.last_seq == total
    assert Post.objects.filter(live_blog=blog).count() == total
    events = list(Event.objects.filter(live_blog=blog).order_by("seq").values_list("seq", "kind", "post_id"))
    assert [seq for seq, _, _ in events] == list(range(1, total + 1))
    assert {kind for _, kind, _ in events} == {Event.Kind.POST_CREATED}
    post_ids = set(Post.objects.filter(live_blog=blog).values_list("pk", flat=True))
    assert {post_id for _, _, post_id in events} == post_ids  # one created-event per post, each exists

    # What each thread saw in its transaction matches the log: its post got exactly that seq.
    seq_of_post = {post_id: seq for seq, _, post_id in events}
    for published in results:
        assert len(published) == POSTS_PER_THREAD
        assert all(seq_of_post[post_id] == seq for post_id, seq in published)
        # A thread's own posts are sequential in its program order, so their seqs increase.
        assert [seq for _, seq in published] == sorted(seq for _, seq in published)

    # One broadcast per event, each after its event and every earlier one had committed.
    event_ids = set(Event.objects.filter(live_blog=blog).values_list("pk", flat=True))
    assert sorted(event_id for event_id, _, _ in broadcasts) == sorted(event_ids)
    assert all(committed == seq for _, seq, committed in broadcasts)


def test_concurrent_mixed_changes_keep_seq_gapless_and_apply_in_seq_order(broadcasts):
    blog = LiveBlogFactory()
    # Posts every thread edits, so writers also contend for the same post rows.
    shared = [
        services.publish_post(Post(live_blog=blog, headline=f"Gemeinsam {n}"), authors=[])
        for n in range(2 * THREADS)
    ]
    seeded = len(shared)
    broadcasts.clear()

    def mixed(index: int) -> list[tuple[str, int, int, str]]:
        done = []  # (operation, post id, seq, headline written)

        def step(operation: str, change: Callable[[], Post], headline: str = "") -> Post:
            with transaction.atomic():
                post = change()
                done.append((operation, post.pk, committed_prefix_check(blog.pk), headline))
            return post

        for n in range(ROUNDS):
            own = step(
                "publish",
                lambda n=n: services.publish_post(
                    Post(live_blog=blog, headline=f"Thread {index} Meldung {n}"), authors=[]
                ),
            )
            target = Post.objects.get(pk=shared[(index + n) % seeded].pk)
            target.headline = f"Thread {index} korrigiert {n}"
            step("update", lambda target=target: services.update_post(target), target.headline)
            step("important", lambda own=own: services.set_important(own, True))
            if n % 2:
                step("delete", lambda own=own: services.delete_post(own))
        return done

    results = run_threads(mixed)
    operations = [op for done in results for op in done]

    # Every operation above changes something, so each wrote exactly one event: none lost, none extra.
    total = seeded + len(operations)
    assert len(operations) == THREADS * (3 * ROUNDS + ROUNDS // 2)
    blog.refresh_from_db()
    assert blog.last_seq == total
    events = list(Event.objects.filter(live_blog=blog).order_by("seq").values_list("seq", "kind", "post_id"))
    assert [seq for seq, _, _ in events] == list(range(1, total + 1))

    # The seq each writer saw in its transaction is the seq of an event of that kind for that post.
    kind_of = {
        "publish": Event.Kind.POST_CREATED,
        "update": Event.Kind.POST_UPDATED,
        "important": Event.Kind.IMPORTANT_CHANGED,
        "delete": Event.Kind.POST_DELETED,
    }
    by_seq = {seq: (kind, post_id) for seq, kind, post_id in events}
    assert len({seq for _, _, seq, _ in operations}) == len(operations)
    for operation, post_id, seq, _ in operations:
        assert by_seq[seq] == (kind_of[operation], post_id)

    # Each change bumped its post's version under the locks: no lost updates.
    events_per_post = {
        row["post_id"]: row["n"]
        for row in Event.objects.filter(live_blog=blog).values("post_id").annotate(n=Count("pk"))
    }
    for post in Post.objects.filter(live_blog=blog):
        assert post.version == events_per_post[post.pk]

    # Shared posts end with the headline of their highest-seq edit: seq order is the order applied.
    for post in shared:
        edits = [
            (seq, headline)
            for op, post_id, seq, headline in operations
            if op == "update" and post_id == post.pk
        ]
        post.refresh_from_db()
        assert post.headline == max(edits)[1]
        assert not post.is_deleted

    # A thread's own posts: created first, flagged important, deleted on odd rounds.
    own_posts = Post.objects.filter(live_blog=blog).exclude(pk__in=[p.pk for p in shared])
    assert own_posts.count() == THREADS * ROUNDS
    assert all(post.is_important for post in own_posts)
    assert own_posts.filter(deleted_at__isnull=False).count() == THREADS * (ROUNDS // 2)
    for post in own_posts:
        kinds = [kind for _, kind, post_id in events if post_id == post.pk]
        expected = [Event.Kind.POST_CREATED, Event.Kind.IMPORTANT_CHANGED]
        assert kinds == ([*expected, Event.Kind.POST_DELETED] if post.is_deleted else expected)

    event_ids = set(Event.objects.filter(live_blog=blog, seq__gt=seeded).values_list("pk", flat=True))
    assert sorted(event_id for event_id, _, _ in broadcasts) == sorted(event_ids)
    assert all(committed == seq for _, seq, committed in broadcasts)
