"""The write path: each service writes, logs an Event, and broadcasts only after commit."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from posts import broadcast, services
from posts.models import Event, LiveBlog, Post
from tests.factories import AuthorFactory, LiveBlogFactory, PostFactory

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture
def sent(monkeypatch):
    """Event ids handed to the broadcast, in order."""
    calls: list[int] = []
    monkeypatch.setattr(broadcast, "send_event", calls.append)
    return calls


def publish(blog, headline="Eilmeldung", **fields):
    authors = fields.pop("authors", ())
    return services.publish_post(Post(live_blog=blog, headline=headline, **fields), authors=authors)


def kinds(blog):
    return list(Event.objects.filter(live_blog=blog).order_by("seq").values_list("seq", "kind"))


def test_publish_writes_post_event_and_broadcasts_on_commit(sent, django_capture_on_commit_callbacks):
    blog = LiveBlogFactory()
    first, second = AuthorFactory(), AuthorFactory()
    with django_capture_on_commit_callbacks(execute=True):
        post = publish(blog, body="<p>Hallo <b>Welt</b></p>", authors=[second, first])
    assert kinds(blog) == [(1, "post.created")]
    assert post.ordered_authors == [second, first]
    assert sent == [Event.objects.get(live_blog=blog, seq=1).pk]
    blog.refresh_from_db()
    assert blog.last_seq == 1


def test_each_service_writes_its_event(sent, django_capture_on_commit_callbacks):
    blog = LiveBlogFactory(state=LiveBlog.State.DRAFT)
    with django_capture_on_commit_callbacks(execute=True):
        services.go_live(blog)
        post = publish(blog)
        post.headline = "Korrigiert"
        services.update_post(post)
        services.set_important(post, True)
        services.set_pinned(post, True)
        services.delete_post(post)
        services.archive_blog(blog)
    assert kinds(blog) == [
        (1, "blog.live"),
        (2, "post.created"),
        (3, "post.updated"),
        (4, "post.important"),
        (5, "post.pinned"),
        (6, "post.deleted"),
        (7, "blog.archived"),
    ]
    assert len(sent) == 7
    blog.refresh_from_db()
    assert blog.coverage_started_at and blog.coverage_ended_at


def test_rolled_back_transaction_broadcasts_nothing(sent, django_capture_on_commit_callbacks):
    blog = LiveBlogFactory()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        publish(blog)
        raise RuntimeError("editor's request failed after the write")
    assert callbacks == []
    assert sent == []
    assert not Post.objects.exists()
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    "action",
    [
        lambda blog, post: publish(blog),
        lambda blog, post: services.update_post(post),
        lambda blog, post: services.delete_post(post),
        lambda blog, post: services.set_important(post, True),
        lambda blog, post: services.set_pinned(post, True),
        lambda blog, post: services.go_live(blog),
        lambda blog, post: services.archive_blog(blog),
    ],
    ids=["publish", "update", "delete", "important", "pin", "go_live", "archive"],
)
def test_archived_blog_refuses_every_change_and_changes_nothing(action, sent):
    blog = LiveBlogFactory(state=LiveBlog.State.ARCHIVED)
    post = PostFactory(live_blog=blog, headline="Alt")
    post.headline = "Neu"
    before = list(Post.objects.values())
    with pytest.raises(services.BlogClosedError) as refused:
        action(blog, post)
    assert refused.value.code == "archived"
    assert list(Post.objects.values()) == before
    assert not Event.objects.exists()
    assert sent == []


def test_only_one_pinned_post_per_blog(sent):
    blog = LiveBlogFactory()
    first = publish(blog, is_pinned=True)
    second = publish(blog, is_pinned=True)
    first.refresh_from_db()
    assert (first.is_pinned, second.is_pinned) == (False, True)
    services.set_pinned(first, True)
    second.refresh_from_db()
    assert Post.objects.filter(live_blog=blog, is_pinned=True).get() == first
    assert [k for _, k in kinds(blog)][-2:] == ["post.pinned", "post.pinned"]


def test_database_refuses_a_second_pinned_post_written_around_the_services():
    blog = LiveBlogFactory()
    PostFactory(live_blog=blog, is_pinned=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        PostFactory(live_blog=blog, is_pinned=True)


def test_deleted_post_keeps_its_row_and_leaves_readers_view(sent):
    blog = LiveBlogFactory()
    post = publish(blog, is_pinned=True)
    services.delete_post(post)
    post.refresh_from_db()
    assert post.deleted_at is not None and not post.is_pinned
    assert not Post.objects.visible().exists()


def test_edit_marks_post_as_edited_but_flags_do_not(sent):
    post = publish(LiveBlogFactory())
    services.set_important(post, True)
    post.refresh_from_db()
    assert post.edited_at is None
    post.body = "<p>Neue Fassung</p>"
    services.update_post(post)
    post.refresh_from_db()
    assert post.edited_at is not None


def test_stale_edit_is_refused_as_conflict_and_keeps_the_newer_text(sent):
    post = publish(LiveBlogFactory(), headline="Original")
    opened_version = post.version
    other = Post.objects.get(pk=post.pk)
    other.headline = "Schneller gespeichert"
    services.update_post(other, expected_version=opened_version)
    post.headline = "Später gespeichert"
    with pytest.raises(services.EditConflictError) as conflict:
        services.update_post(post, expected_version=opened_version)
    assert conflict.value.current.headline == "Schneller gespeichert"
    assert Post.objects.get(pk=post.pk).headline == "Schneller gespeichert"


def test_body_is_sanitized_on_publish_and_on_edit(sent):
    post = publish(LiveBlogFactory(), body='<p onclick="x()">Hi<script>alert(1)</script></p>')
    assert post.body == "<p>Hi</p>"
    post.body = '<a href="javascript:alert(1)">x</a>'
    services.update_post(post)
    post.refresh_from_db()
    assert "javascript" not in post.body


def test_headline_is_required(sent):
    with pytest.raises(ValidationError) as error:
        publish(LiveBlogFactory(), headline="")
    assert "headline" in error.value.message_dict
    assert not Event.objects.exists()


def test_archiving_a_draft_is_refused():
    blog = LiveBlogFactory(state=LiveBlog.State.DRAFT)
    with pytest.raises(services.BlogClosedError):
        services.archive_blog(blog)


def test_reopen_records_an_event_and_allows_posting_again(sent):
    blog = LiveBlogFactory(state=LiveBlog.State.ARCHIVED)
    services.reopen_blog(blog)
    publish(blog)
    assert [k for _, k in kinds(blog)] == ["blog.reopened", "post.created"]


def test_saving_a_stale_blog_copy_keeps_the_event_counter_and_state(sent):
    blog = LiveBlogFactory()
    stale = LiveBlog.objects.get(pk=blog.pk)
    publish(blog)
    services.archive_blog(blog)
    stale.title = "Neuer Titel"
    stale.save()  # e.g. the admin change form, opened before the posts came in
    fresh = LiveBlog.objects.get(pk=blog.pk)
    assert (fresh.title, fresh.last_seq, fresh.state) == ("Neuer Titel", 2, LiveBlog.State.ARCHIVED)


# Several posts at once (a results feed when the polls close) ----------------------------------


def test_publish_posts_writes_them_in_order_with_one_event_each_and_broadcasts_them_together(
    monkeypatch, django_capture_on_commit_callbacks
):
    batches: list[list[int]] = []
    monkeypatch.setattr(broadcast, "send_events", batches.append)
    blog = LiveBlogFactory()
    publish(blog, "Vorher")
    author = AuthorFactory()

    with django_capture_on_commit_callbacks(execute=True):
        posts = services.publish_posts(
            blog,
            [Post(headline=f"Wahlkreis {n}", body=f"<p>{n}<script>x</script></p>") for n in range(1, 4)],
            authors=[author, author],
        )

    assert kinds(blog) == [(1, "post.created")] + [(seq, "post.created") for seq in (2, 3, 4)]
    assert [e.post_id for e in Event.objects.filter(live_blog=blog, seq__gt=1).order_by("seq")] == [
        p.pk for p in posts
    ]
    assert batches == [
        list(Event.objects.filter(live_blog=blog, seq__gt=1).order_by("seq").values_list("pk", flat=True))
    ]
    assert [p.body for p in Post.objects.filter(pk__in=[p.pk for p in posts]).order_by("pk")] == [
        "<p>1</p>",
        "<p>2</p>",
        "<p>3</p>",
    ]
    assert all(p.ordered_authors == [author] for p in Post.objects.filter(pk__in=[p.pk for p in posts]))
    blog.refresh_from_db()
    assert blog.last_seq == 4


def test_publish_posts_is_all_or_nothing(monkeypatch):
    monkeypatch.setattr(broadcast, "send_events", lambda ids: None)
    blog = LiveBlogFactory()

    with pytest.raises(ValidationError):
        services.publish_posts(blog, [Post(headline="Gut"), Post(headline="")])

    assert not Post.objects.filter(live_blog=blog).exists()
    assert kinds(blog) == []


def test_publish_posts_refuses_an_archived_blog_and_pinned_or_illustrated_posts(monkeypatch):
    monkeypatch.setattr(broadcast, "send_events", lambda ids: None)
    blog = LiveBlogFactory()
    with pytest.raises(ValueError):
        services.publish_posts(blog, [Post(headline="Oben", is_pinned=True)])
    services.archive_blog(blog)
    with pytest.raises(services.BlogClosedError):
        services.publish_posts(blog, [Post(headline="Zu spät")])
    assert not Post.objects.filter(live_blog=blog).exists()


def test_publish_posts_costs_the_same_queries_for_3_or_300_posts(monkeypatch, django_assert_max_num_queries):
    monkeypatch.setattr(broadcast, "send_events", lambda ids: None)
    blog = LiveBlogFactory()
    with django_assert_max_num_queries(8):
        services.publish_posts(blog, [Post(headline=f"Meldung {n}") for n in range(300)])
    assert Post.objects.filter(live_blog=blog).count() == 300
