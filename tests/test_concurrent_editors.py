"""Readers resuming at random moments while several editors write (PostgreSQL).

tests/test_sequence_concurrency.py proves the writer's side: seqs are gapless and seq order is commit
order. This file checks the reader's side of the same contract under the same kind of load: four
editor threads publish, edit, flag and delete their own posts while one reader follows the pushes
the way static/js/live/ does (apply seq last+1, buffer a newer one, catch up when a gap lasts)
and, at random moments, loses its socket: the pushes sent while it is offline are gone, and on
"reconnect" it asks the catch-up endpoint for everything after the last seq it applied. Whatever
the timing, the reader must end with exactly the database's visible posts, each in its current
markup, having applied every seq 1..N exactly once and every post's creation exactly once.

The push is modelled by replacing broadcast.send_event: it still runs on commit in the editor's
thread and renders the event as the real one does (render_event), but puts the payload on a queue
the reader takes from, instead of the channel layer. Pushes of different threads can leave in
another order than their seqs (see test_sequence_concurrency), which is what the reader's buffer is
for. The bench drill bench/faults/editors/ does the same end to end (processes, Daphne, sockets).
"""

from __future__ import annotations

import contextlib
import queue
import random
import threading
import time
from collections import Counter

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from live import views
from posts import broadcast, services
from posts.models import Event, LiveBlog, Post
from tests.factories import LiveBlogFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

EDITORS = 4
POSTS_PER_EDITOR = 50
EDIT_RATE, IMPORTANT_RATE, DELETE_RATE = 0.2, 0.1, 0.05
RESUMES_PER_SECOND = 25  # socket drops; each one loses the pushes sent while offline
OFFLINE_SECONDS = 0.08  # at most
CATCH_UP_LIMIT = 5  # events per catch-up answer here (the app's: views.CATCH_UP_LIMIT)
POST_PARTIAL = "posts/liveblog_detail.html#post"
GAP_PATIENCE = 0.05  # the live client waits 0.3-2.3 s for a missing push; a shorter wait here, same logic


@pytest.fixture
def pushes(monkeypatch) -> queue.Queue:
    """Each committed event's payload, rendered on commit in the writer's thread, as the push is."""
    sent: queue.Queue = queue.Queue()

    def send_event(event_id: int) -> None:
        sent.put(broadcast.render_event(broadcast.events_for_rendering().get(pk=event_id)))

    monkeypatch.setattr(broadcast, "send_event", send_event)
    return sent


class ResumingReader:
    """static/js/live/'s ordering over the test client: pushes in seq order, catch-up for the rest."""

    def __init__(self, client, blog: LiveBlog) -> None:
        self.client = client
        self.url = reverse("liveblog-events", kwargs={"slug": blog.slug})
        self.last_seq = 0  # the page was rendered before the first post: data-seq="0"
        self.shown: dict[int, str] = {}  # post id -> markup on the page
        self.applied: list[int] = []
        self.created: Counter[int] = Counter()  # post.created events applied, per post
        self.inserted_while_shown = 0
        self.buffered: dict[int, dict] = {}
        self.gap_since: float | None = None
        self.catch_up_requests = 0
        self.multi_page_catch_ups = 0

    def apply(self, event: dict) -> None:
        self.applied.append(event["seq"])
        post_id = event["post_id"]
        if event["kind"] == Event.Kind.POST_CREATED:
            self.created[post_id] += 1
            self.inserted_while_shown += post_id in self.shown
        if event["html"]:
            self.shown[post_id] = event["html"]  # the live client replaces an element with the same id
        else:
            self.shown.pop(post_id, None)

    def receive(self, event: dict) -> None:
        if event["seq"] <= self.last_seq:
            return
        if event["seq"] == self.last_seq + 1:
            self.last_seq = event["seq"]
            self.apply(event)
            self.drain()
        else:
            self.buffered[event["seq"]] = event
            self.gap_since = self.gap_since or time.monotonic()

    def drain(self) -> None:
        while self.last_seq + 1 in self.buffered:
            event = self.buffered.pop(self.last_seq + 1)
            self.last_seq = event["seq"]
            self.apply(event)
        self.buffered = {seq: e for seq, e in self.buffered.items() if seq > self.last_seq}
        self.gap_since = time.monotonic() if self.buffered else None

    def catch_up(self) -> None:
        for page in range(1000):  # the live client: again while a page came back and it is still behind
            self.multi_page_catch_ups += page == 1
            response = self.client.get(self.url, {"after": self.last_seq})
            assert response.status_code == 200
            self.catch_up_requests += 1
            data = response.json()
            for event in data["events"]:
                if event["seq"] > self.last_seq:
                    self.last_seq = event["seq"]
                    self.apply(event)
            self.drain()
            if not data["events"] or self.last_seq >= data["last_seq"]:
                return
        raise AssertionError("catch-up did not end")

    def gap_overdue(self) -> bool:
        return self.gap_since is not None and time.monotonic() - self.gap_since > GAP_PATIENCE


def edit_own_posts(blog: LiveBlog, index: int) -> Counter[str]:
    """One editor: new posts, and now and then an edit, a flag or a delete of one of its own."""
    rng = random.Random(index)
    done: Counter[str] = Counter()
    own: list[Post] = []
    for n in range(POSTS_PER_EDITOR):
        own.append(services.publish_post(Post(live_blog=blog, headline=f"Redaktion {index} Meldung {n}")))
        done["created"] += 1
        if rng.random() < EDIT_RATE:
            post = Post.objects.get(pk=rng.choice(own).pk)
            post.headline = f"{post.headline} (korrigiert)"
            services.update_post(post, expected_version=post.version)
            done["edited"] += 1
        if rng.random() < IMPORTANT_RATE:
            post = Post.objects.get(pk=rng.choice(own).pk)
            services.set_important(post, not post.is_important)
            done["important"] += 1
        if len(own) > 1 and rng.random() < DELETE_RATE:
            post = own.pop(rng.randrange(len(own)))
            services.delete_post(post)
            done["deleted"] += 1
    return done


def start_editors(blog: LiveBlog) -> tuple[list[threading.Thread], list[Counter[str]], list[BaseException]]:
    barrier = threading.Barrier(EDITORS, timeout=30)
    results: list[Counter[str]] = []
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait()
            results.append(edit_own_posts(blog, index))
        except BaseException as error:
            barrier.abort()
            errors.append(error)
        finally:
            connection.close()  # this thread's connection; the test database is dropped later

    threads = [threading.Thread(target=run, args=(index,)) for index in range(EDITORS)]
    for thread in threads:
        thread.start()
    return threads, results, errors


def current_markup(blog: LiveBlog) -> dict[int, str]:
    """Every visible post as the page, the push and the catch-up render it now."""
    posts = Post.objects.filter(live_blog=blog).visible().prefetch_related("post_authors__author")
    with translation.override(blog.language), timezone.override(blog.time_zone):
        return {post.pk: render_to_string(POST_PARTIAL, {"post": post}) for post in posts}


def test_reader_resuming_at_random_moments_ends_with_every_post_once_in_its_current_version(
    client, pushes, monkeypatch
):
    # Small catch-up pages: short outages fit in one answer, longer ones take several requests.
    monkeypatch.setattr(views, "CATCH_UP_LIMIT", CATCH_UP_LIMIT)
    blog = LiveBlogFactory(state=LiveBlog.State.LIVE)
    reader = ResumingReader(client, blog)
    rng = random.Random(1)
    resumes = lost_pushes = 0

    threads, results, errors = start_editors(blog)
    deadline = time.monotonic() + 60
    next_drop = time.monotonic() + rng.expovariate(RESUMES_PER_SECOND)
    while any(thread.is_alive() for thread in threads) and time.monotonic() < deadline:
        if time.monotonic() >= next_drop:
            # The socket drops: what is pushed meanwhile never arrives; then reconnect and catch up.
            # Every fourth outage lasts until more than two catch-up pages were lost (or 1 s).
            long_outage = resumes % 4 == 3
            offline_until = time.monotonic() + (1.0 if long_outage else rng.uniform(0, OFFLINE_SECONDS))
            lost_now = 0
            while time.monotonic() < offline_until and not (long_outage and lost_now > 2 * CATCH_UP_LIMIT):
                with contextlib.suppress(queue.Empty):
                    pushes.get(timeout=0.005)
                    lost_now += 1
            lost_pushes += lost_now
            reader.catch_up()
            resumes += 1
            next_drop = time.monotonic() + rng.expovariate(RESUMES_PER_SECOND)
            continue
        with contextlib.suppress(queue.Empty):
            reader.receive(pushes.get(timeout=0.005))
        if reader.gap_overdue():
            reader.catch_up()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert not any(thread.is_alive() for thread in threads)
    # Connected to the end: the last pushes arrive (all were queued on commit, before the join).
    while not pushes.empty():
        reader.receive(pushes.get_nowait())

    done = sum(results, Counter())
    changes = sum(done.values())
    assert done["created"] == EDITORS * POSTS_PER_EDITOR
    # The reader really lost pushes, resumed, and needed more than one page for some resumes.
    assert resumes > 3 and lost_pushes > 0
    assert reader.multi_page_catch_ups > 0
    blog.refresh_from_db()
    assert blog.last_seq == changes
    assert list(Event.objects.filter(live_blog=blog).values_list("seq", flat=True)) == list(
        range(1, changes + 1)
    )

    # Nothing missed: complete without a final catch-up, every post in its current version.
    assert not reader.buffered
    assert reader.last_seq == changes
    assert reader.shown == current_markup(blog)
    # Nothing twice: each seq applied once, in order; each post created once on the reader's page.
    assert reader.applied == list(range(1, changes + 1))
    created = set(Post.objects.filter(live_blog=blog).values_list("pk", flat=True))
    assert reader.created == Counter(created)
    assert reader.inserted_while_shown == 0
