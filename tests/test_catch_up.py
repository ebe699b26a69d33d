"""The catch-up endpoint: what a reader missed, from the event log, in the push's own format."""

import random
import time

import pytest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from posts import services
from posts.models import LiveBlog, Post
from tests.factories import AuthorFactory, LiveBlogFactory

pytestmark = pytest.mark.django_db


def publish(blog, headline="Eilmeldung", **fields):
    authors = fields.pop("authors", ())
    return services.publish_post(Post(live_blog=blog, headline=headline, **fields), authors=authors)


def events_url(blog, after=None):
    url = reverse("liveblog-events", kwargs={"slug": blog.slug})
    return url if after is None else f"{url}?after={after}"


def rendered(post: Post) -> str:
    blog = post.live_blog
    with translation.override(blog.language), timezone.override(blog.time_zone):
        return render_to_string("posts/liveblog_detail.html#post", {"post": post})


def visible_posts_rendered(blog) -> dict[int, str]:
    return {post.pk: rendered(post) for post in Post.objects.filter(live_blog=blog).visible().for_display()}


def test_returns_events_after_seq_in_order_with_the_page_markup(client):
    blog = LiveBlogFactory()
    first = publish(blog, "Erste", authors=[AuthorFactory()])
    second = publish(blog, "Zweite")
    third = publish(blog, "Dritte")

    response = client.get(events_url(blog, after=1))

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    data = response.json()
    assert data["last_seq"] == 3
    assert [(e["seq"], e["kind"], e["post_id"]) for e in data["events"]] == [
        (2, "post.created", second.pk),
        (3, "post.created", third.pk),
    ]
    page = client.get(blog.get_absolute_url()).content.decode()
    for event in data["events"]:
        assert event["html"] and event["html"] in page
    assert first.headline not in response.content.decode()


def test_without_after_returns_everything(client):
    blog = LiveBlogFactory()
    publish(blog)
    publish(blog)
    assert [e["seq"] for e in client.get(events_url(blog)).json()["events"]] == [1, 2]


def test_nothing_missed_gives_an_empty_list(client):
    blog = LiveBlogFactory()
    publish(blog)
    assert client.get(events_url(blog, after=1)).json() == {"events": [], "last_seq": 1}


def test_deleted_post_comes_as_removal_and_is_not_resurrected(client):
    blog = LiveBlogFactory()
    post = publish(blog, "Falschmeldung")
    post.headline = "Immer noch falsch"
    services.update_post(post)
    services.delete_post(post)

    events = client.get(events_url(blog, after=0)).json()["events"]

    assert [(e["kind"], e["post_id"], e["html"]) for e in events] == [
        ("post.created", post.pk, ""),
        ("post.updated", post.pk, ""),
        ("post.deleted", post.pk, ""),
    ]


def test_archived_event_carries_the_page_archive_notice(client):
    blog = LiveBlogFactory(topic_url="https://example.org/wahl", topic_title="Wahl 2026")
    publish(blog)
    services.archive_blog(blog)

    event = client.get(events_url(blog, after=1)).json()["events"][0]

    assert event["kind"] == "blog.archived"
    assert 'id="archive-notice"' in event["html"]
    assert event["html"] in client.get(blog.get_absolute_url()).content.decode()


def test_draft_and_unknown_blogs_are_not_found(client):
    draft = LiveBlogFactory(state=LiveBlog.State.DRAFT)
    assert client.get(events_url(draft, after=0)).status_code == 404
    assert client.get("/live/gibt-es-nicht/events/?after=0").status_code == 404


@pytest.mark.parametrize("after", ["abc", "-1", "1.5", "", "99999999999999999999", "+3", " 3", "٣"])
def test_bad_after_is_a_clear_400_here_and_in_the_api(client, after):
    # One parser (posts.paging.parse_after) for both: "+3" used to be read as 3 here, refused there.
    blog = LiveBlogFactory()
    for url in (events_url(blog, after=after), f"/api/live/{blog.slug}/events/?after={after}"):
        response = client.get(url)
        assert response.status_code == 400, url
        assert "after must be a non-negative integer" in response.json()["error"]


def test_only_get_is_allowed(client):
    blog = LiveBlogFactory()
    assert client.post(events_url(blog, after=0)).status_code == 405


def test_query_count_does_not_grow_with_events(client, django_assert_max_num_queries):
    blog = LiveBlogFactory()
    authors = [AuthorFactory(), AuthorFactory()]
    for n in range(30):
        post = publish(blog, f"Meldung {n}", authors=authors)
        services.set_important(post, True)
    with django_assert_max_num_queries(6):
        response = client.get(events_url(blog, after=0))
    assert len(response.json()["events"]) == 60


def test_response_is_capped_and_client_can_continue(client, settings, monkeypatch):
    from live import views

    monkeypatch.setattr(views, "CATCH_UP_LIMIT", 3)
    blog = LiveBlogFactory()
    for _ in range(5):
        publish(blog)

    first = client.get(events_url(blog, after=0)).json()
    assert [e["seq"] for e in first["events"]] == [1, 2, 3]
    assert first["last_seq"] == 5
    rest = client.get(events_url(blog, after=first["events"][-1]["seq"])).json()
    assert [e["seq"] for e in rest["events"]] == [4, 5]


def apply(state: dict[int, str], events: list[dict]) -> None:
    """What the client does: the newest markup of each post wins, "" removes it."""
    for event in events:
        if event["post_id"] is None:
            continue
        if event["html"]:
            state[event["post_id"]] = event["html"]
        else:
            state.pop(event["post_id"], None)


def test_resume_after_mixed_changes_reproduces_the_visible_posts(client):
    rng = random.Random(3)
    blog = LiveBlogFactory()
    authors = [AuthorFactory(), AuthorFactory()]
    for n in range(5):
        publish(blog, f"Vorher {n}", authors=authors)

    # The reader saw the page at this point.
    state = visible_posts_rendered(blog)
    blog.refresh_from_db()
    seen = blog.last_seq

    live: list[Post] = list(Post.objects.filter(live_blog=blog))
    for n in range(50):
        action = rng.choice(["create", "create", "edit", "edit", "important", "pin", "delete"])
        if action == "create" or not live:
            live.append(publish(blog, f"Neu {n}", authors=rng.sample(authors, 1)))
        elif action == "edit":
            post = rng.choice(live)
            post.headline = f"Bearbeitet {n}"
            services.update_post(post)
        elif action == "important":
            post = rng.choice(live)
            services.set_important(post, not post.is_important)
        elif action == "pin":
            post = rng.choice(live)
            services.set_pinned(post, not post.is_pinned)
        else:
            post = live.pop(rng.randrange(len(live)))
            services.delete_post(post)

    data = client.get(events_url(blog, after=seen)).json()
    seqs = [e["seq"] for e in data["events"]]
    assert seqs == list(range(seen + 1, data["last_seq"] + 1))
    assert len(seqs) >= 50

    apply(state, data["events"])
    assert state == visible_posts_rendered(blog)

    # Replaying the same answer (a reconnect that asked from too early) changes nothing.
    apply(state, data["events"])
    assert state == visible_posts_rendered(blog)


def test_busy_process_answers_503_with_retry_after_and_no_database_work(
    client, monkeypatch, django_assert_num_queries
):
    import threading

    from live import views

    blog = LiveBlogFactory()
    monkeypatch.setattr(views, "_catch_up_slots", threading.BoundedSemaphore(1))
    monkeypatch.setattr(views, "CATCH_UP_QUEUE_SECONDS", 0.01)
    views._catch_up_slots.acquire()  # another catch-up is running
    try:
        with django_assert_num_queries(0):
            response = client.get(events_url(blog, after=0))
    finally:
        views._catch_up_slots.release()
    assert response.status_code == 503 and response["Retry-After"] == "2"
    assert client.get(events_url(blog, after=0)).status_code == 200


# --- the reconnect herd: many readers ask the same question within seconds -----------------------


def test_repeated_catch_up_costs_one_query(client, django_assert_num_queries):
    blog = LiveBlogFactory()
    for n in range(3):
        publish(blog, f"Meldung {n}", authors=[AuthorFactory()])

    # The blog row, the events (with blog, successor and post), the bylines with their authors.
    with django_assert_num_queries(3):
        first = client.get(events_url(blog, after=1))
    # Every other reader who missed the same events: only the blog row, for its last_seq.
    with django_assert_num_queries(1):
        second = client.get(events_url(blog, after=1))

    assert second.status_code == 200
    assert second["Cache-Control"] == "no-store"
    assert second["Content-Type"] == "application/json"
    assert second.content == first.content
    assert [e["seq"] for e in second.json()["events"]] == [2, 3]


def test_a_new_event_is_in_the_next_answer_at_once(client):
    blog = LiveBlogFactory()
    publish(blog, "Erste")
    assert [e["seq"] for e in client.get(events_url(blog, after=0)).json()["events"]] == [1]

    second = publish(blog, "Zweite")

    data = client.get(events_url(blog, after=0)).json()
    assert data["last_seq"] == 2
    assert [(e["seq"], e["post_id"]) for e in data["events"]][-1] == (2, second.pk)
    assert second.headline in data["events"][-1]["html"]


def test_an_edit_is_an_event_and_shows_at_once(client):
    blog = LiveBlogFactory()
    post = publish(blog, "Vorläufig")
    client.get(events_url(blog, after=0))

    post.headline = "Endgültig"
    services.update_post(post)

    html = [e["html"] for e in client.get(events_url(blog, after=0)).json()["events"]]
    assert "Endgültig" in html[0] and "Vorläufig" not in html[0]


def test_a_different_after_is_a_different_answer(client):
    blog = LiveBlogFactory()
    for _ in range(3):
        publish(blog)

    assert [e["seq"] for e in client.get(events_url(blog, after=0)).json()["events"]] == [1, 2, 3]
    assert [e["seq"] for e in client.get(events_url(blog, after=2)).json()["events"]] == [3]
    assert client.get(events_url(blog, after=3)).json() == {"events": [], "last_seq": 3}


def test_answers_of_two_blogs_are_kept_apart(client):
    one, other = LiveBlogFactory(), LiveBlogFactory()
    mine = publish(one, "Nur hier")
    theirs = publish(other, "Nur dort")

    assert [e["post_id"] for e in client.get(events_url(one, after=0)).json()["events"]] == [mine.pk]
    assert [e["post_id"] for e in client.get(events_url(other, after=0)).json()["events"]] == [theirs.pk]


def test_editing_the_blog_renders_the_answer_again(client):
    blog = LiveBlogFactory(language=LiveBlog.Language.GERMAN)
    post = publish(blog)
    german = client.get(events_url(blog, after=0)).json()["events"][0]["html"]

    blog.language = LiveBlog.Language.ENGLISH
    blog.save()

    english = client.get(events_url(blog, after=0)).json()["events"][0]["html"]
    assert english != german
    assert english == rendered(Post.objects.get(pk=post.pk))


def test_a_cached_answer_is_not_served_once_the_blog_is_a_draft(client):
    blog = LiveBlogFactory()
    publish(blog)
    assert client.get(events_url(blog, after=0)).status_code == 200

    LiveBlog.objects.filter(pk=blog.pk).update(state=LiveBlog.State.DRAFT)

    assert client.get(events_url(blog, after=0)).status_code == 404


def test_a_change_without_an_event_shows_once_the_cached_answer_expires(client, monkeypatch):
    # The documented staleness bound: an author's new name is no event of the blog.
    from live import views

    blog = LiveBlogFactory()
    author = AuthorFactory(name="Alte Name")
    publish(blog, authors=[author])
    assert "Alte Name" in client.get(events_url(blog, after=0)).json()["events"][0]["html"]
    author.name = "Neuer Name"
    author.save()

    assert "Alte Name" in client.get(events_url(blog, after=0)).json()["events"][0]["html"]
    later = time.time() + views.CATCH_UP_CACHE_SECONDS + 1
    monkeypatch.setattr(time, "time", lambda: later)
    assert "Neuer Name" in client.get(events_url(blog, after=0)).json()["events"][0]["html"]


@pytest.mark.django_db(transaction=True)
def test_readers_asking_at_once_wait_for_one_rendering(monkeypatch):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections
    from django.test import Client

    from live import views

    blog = LiveBlogFactory()
    publish(blog)
    renderings = []
    render = views._render_events

    def slow_render(*args):
        renderings.append(args)
        time.sleep(0.2)  # long enough for every other reader to arrive and miss the cache
        return render(*args)

    monkeypatch.setattr(views, "_render_events", slow_render)
    start = threading.Barrier(4)

    def reader():
        start.wait()
        try:
            return Client().get(events_url(blog, after=0)).content
        finally:
            connections.close_all()

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: reader(), range(4)))

    assert len(renderings) == 1
    assert len(set(answers)) == 1
