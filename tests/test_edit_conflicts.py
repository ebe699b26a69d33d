"""Two editors save the same post: the second save is a conflict, never a silent overwrite.

Every post carries a version, bumped on each change. The admin change form sends the version the
editor opened (`base_version`); `services.update_post(expected_version=...)` refuses a save
against an older one with EditConflictError, under the post's row lock, so even saves that race
each other on PostgreSQL let exactly one through.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from posts import broadcast, services
from posts.models import Event, LiveBlog, Post
from tests.factories import AuthorFactory, EditorFactory, LiveBlogFactory

THREADS = 8
SAVES = 100


def publish(blog: LiveBlog, headline: str, body: str = "") -> Post:
    return services.publish_post(Post(live_blog=blog, headline=headline, body=body))


def editor_client() -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(EditorFactory())
    return client


def change_form(post: Post, base_version: int, **fields) -> dict:
    author = AuthorFactory()
    return {
        "live_blog": post.live_blog_id,
        "headline": post.headline,
        "body": post.body,
        "authors": [author.pk],
        "base_version": base_version,
        "published_at_0": post.published_at.strftime("%Y-%m-%d"),
        "published_at_1": post.published_at.strftime("%H:%M:%S"),
        **fields,
    }


@pytest.mark.django_db
def test_second_editor_saving_the_same_post_sees_both_versions_and_nothing_is_overwritten():
    blog = LiveBlogFactory()
    post = publish(blog, "Erste Meldung", "<p>Ursprünglicher Text</p>")
    url = reverse("admin:posts_post_change", args=[post.pk])
    first, second = editor_client(), editor_client()

    # The first editor opens the form; it carries the version they start from.
    opened = first.get(url)
    base_version = opened.context["adminform"].form["base_version"].value()
    assert base_version == post.version

    # Meanwhile the second editor opens and saves.
    theirs_version = second.get(url).context["adminform"].form["base_version"].value()
    response = second.post(
        url,
        change_form(post, theirs_version, headline="Korrektur der Kollegin", body="<p>Ihr Text</p>"),
    )
    assert response.status_code == 302
    after_theirs = Post.objects.get(pk=post.pk)
    events_before = list(Event.objects.order_by("seq").values_list("seq", "kind"))

    # The first editor saves what they typed, from the old version: a conflict.
    response = first.post(
        url, change_form(post, base_version, headline="Meine Überschrift", body="<p>Mein langer Text</p>")
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Someone else saved this post" in html
    assert "Korrektur der Kollegin" in html and "Ihr Text" in html  # their version, shown
    assert 'value="Meine Überschrift"' in html and "Mein langer Text" in html  # mine, kept
    form = response.context["adminform"].form
    assert form.non_field_errors().as_data()[0].code == "conflict"

    # Nothing overwritten, nothing recorded.
    current = Post.objects.get(pk=post.pk)
    assert (current.headline, current.body, current.version) == (
        "Korrektur der Kollegin",
        "<p>Ihr Text</p>",
        after_theirs.version,
    )
    assert list(Event.objects.order_by("seq").values_list("seq", "kind")) == events_before

    # The re-shown form now names their version: saving again deliberately replaces it.
    assert int(form["base_version"].value()) == after_theirs.version
    response = first.post(
        url,
        change_form(post, after_theirs.version, headline="Meine Überschrift", body="<p>Mein langer Text</p>"),
    )
    assert response.status_code == 302
    current.refresh_from_db()
    assert current.headline == "Meine Überschrift" and current.version == after_theirs.version + 1


def elsewhere(change) -> None:
    """Run `change` in another thread, on its own database connection, committed when it returns."""

    def run() -> None:
        try:
            change()
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(run).result()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_save_that_passes_the_form_but_is_refused_by_the_service_reshows_the_form(monkeypatch):
    """Another editor saves between the form's version check and the write: the service, checking
    again under the lock, refuses; the admin shows the form again with the conflict (was a 500)."""
    from posts.admin import PostAdmin

    blog = LiveBlogFactory()
    post = publish(blog, "Erste Meldung", "<p>Ursprünglicher Text</p>")
    url = reverse("admin:posts_post_change", args=[post.pk])
    client = editor_client()
    base_version = client.get(url).context["adminform"].form["base_version"].value()
    save_model = PostAdmin.save_model

    def their_save() -> None:
        theirs = Post.objects.get(pk=post.pk)
        theirs.headline = "Korrektur der Kollegin"
        services.update_post(theirs, expected_version=theirs.version)

    def someone_saves_first(self, request, obj, form, change):
        elsewhere(their_save)
        monkeypatch.setattr(PostAdmin, "save_model", save_model)  # once
        save_model(self, request, obj, form, change)

    monkeypatch.setattr(PostAdmin, "save_model", someone_saves_first)
    response = client.post(url, change_form(post, base_version, headline="Meine Überschrift"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Someone else saved this post" in html and "Korrektur der Kollegin" in html
    assert 'value="Meine Überschrift"' in html  # the editor's text, kept
    assert Post.objects.get(pk=post.pk).headline == "Korrektur der Kollegin"
    assert list(Event.objects.filter(live_blog=blog).values_list("kind", flat=True)) == [
        "post.created",
        "post.updated",
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_post_to_a_blog_archived_after_the_form_check_reshows_the_form(monkeypatch):
    from posts.admin import PostAdmin

    blog = LiveBlogFactory()
    services.go_live(blog)
    save_model = PostAdmin.save_model

    def archived_meanwhile(self, request, obj, form, change):
        elsewhere(lambda: services.archive_blog(blog))
        monkeypatch.setattr(PostAdmin, "save_model", save_model)  # once
        save_model(self, request, obj, form, change)

    monkeypatch.setattr(PostAdmin, "save_model", archived_meanwhile)
    response = editor_client().post(
        reverse("admin:posts_post_add"),
        {
            "live_blog": blog.pk,
            "headline": "Zu spät",
            "body": "<p>Text</p>",
            "published_at_0": "2026-12-03",
            "published_at_1": "18:00:00",
        },
    )
    assert response.status_code == 200
    assert "is archived and can no longer be changed" in response.content.decode()
    assert 'value="Zu spät"' in response.content.decode()
    assert not Post.objects.filter(headline="Zu spät").exists()


@pytest.mark.django_db
def test_update_post_from_a_stale_version_raises_with_the_current_post_and_writes_nothing():
    blog = LiveBlogFactory()
    post = publish(blog, "Erste Meldung")
    stale = Post.objects.get(pk=post.pk)
    fresh = Post.objects.get(pk=post.pk)
    fresh.headline = "Schneller gespeichert"
    services.update_post(fresh, expected_version=post.version)

    stale.headline = "Zu spät"
    with pytest.raises(services.EditConflictError) as raised:
        services.update_post(stale, expected_version=post.version)
    assert raised.value.code == "conflict"
    assert raised.value.current.headline == "Schneller gespeichert"
    current = Post.objects.get(pk=post.pk)
    assert current.headline == "Schneller gespeichert" and current.version == post.version + 1
    assert blog.events.filter(kind=Event.Kind.POST_UPDATED).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_conflicting_saves_let_exactly_one_through(monkeypatch):
    blog = LiveBlogFactory()
    post = publish(blog, "Ausgangslage")
    start_version = post.version
    start_seq = LiveBlog.objects.get(pk=blog.pk).last_seq

    sent: list[int] = []
    lock = threading.Lock()

    def record(event_id: int) -> None:
        with lock:
            sent.append(event_id)

    monkeypatch.setattr(broadcast, "send_event", record)

    # Every save starts from its own copy of the same version, as 100 open forms would.
    copies = []
    for n in range(SAVES):
        copy = Post.objects.select_related("live_blog").get(pk=post.pk)
        copy.headline = f"Fassung {n}"
        copies.append(copy)
    barrier = threading.Barrier(THREADS, timeout=30)

    def save_all(index: int) -> list[tuple[str, str]]:
        outcomes = []
        try:
            barrier.wait()
            for copy in copies[index::THREADS]:
                try:
                    services.update_post(copy, expected_version=start_version)
                    outcomes.append(("saved", copy.headline))
                except services.EditConflictError as error:
                    assert error.current.version == start_version + 1
                    outcomes.append(("conflict", copy.headline))
            return outcomes
        except BaseException:
            barrier.abort()
            raise
        finally:
            connection.close()  # this thread's own connection

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = [pool.submit(save_all, index) for index in range(THREADS)]
        outcomes = [outcome for future in futures for outcome in future.result(timeout=120)]

    saved = [headline for result, headline in outcomes if result == "saved"]
    conflicts = [headline for result, headline in outcomes if result == "conflict"]
    assert len(outcomes) == SAVES
    assert len(saved) == 1 and len(conflicts) == SAVES - 1

    current = Post.objects.get(pk=post.pk)
    assert current.version == start_version + 1
    assert current.headline == saved[0]
    updates = Event.objects.filter(post=post, kind=Event.Kind.POST_UPDATED)
    assert updates.count() == 1
    assert LiveBlog.objects.get(pk=blog.pk).last_seq == start_seq + 1
    assert sent == [updates.get().pk]  # one broadcast, for the one save
