"""The editors' desk, issue 6: Undo after a delete (restore_post), the live preview, thumbnails.

Through the test client, as the desk's htmx requests reach the server; the browser half is in
tests/browser/test_desk.py.
"""

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from PIL import Image

from images.processing import process_avatar, process_photo
from posts import services
from posts.broadcast import events_for_rendering, render_event
from posts.models import Event, LiveBlog, Post
from tests.factories import AuthorFactory, LiveBlogFactory, StaffFactory

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}


def composer_url(blog):
    return reverse("admin:posts_liveblog_composer", args=[blog.pk])


def action_url(blog, post, action):
    return reverse("admin:posts_liveblog_composer_action", args=[blog.pk, post.pk, action])


def preview_url(blog):
    return reverse("admin:posts_liveblog_composer_preview", args=[blog.pk])


def png(size=(900, 600), name="photo.png"):
    out = io.BytesIO()
    Image.new("RGB", size, (200, 60, 40)).save(out, "PNG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


def published(blog, headline="Straße gesperrt", **fields):
    return services.publish_post(Post(live_blog=blog, headline=headline, body="<p>Umleitung.</p>", **fields))


def deleted(blog, *, ago=timedelta(0), **fields):
    post = published(blog, **fields)
    services.delete_post(post)
    if ago:
        Post.objects.filter(pk=post.pk).update(deleted_at=timezone.now() - ago)
    post.refresh_from_db()
    return post


def kinds(blog):
    return list(blog.events.values_list("kind", flat=True))


# ---- restore: Undo after a delete ---------------------------------------------------------------


def test_undo_restores_a_just_deleted_post_for_readers(editor_client, editor):
    blog = LiveBlogFactory()
    post = published(blog, is_pinned=True)
    response = editor_client.post(action_url(blog, post, "delete"), headers=HX)
    html = response.content.decode()
    # The deleted row offers Undo (for UNDO_OFFER), not the other actions.
    row = re.search(rf'<li id="desk-post-{post.pk}".*?</li>', html, re.S).group(0)
    assert "desk__undo" in row and action_url(blog, post, "restore") in row
    assert "desk__actions" not in row
    assert post.headline not in editor_client.get(blog.get_absolute_url()).content.decode()

    response = editor_client.post(action_url(blog, post, "restore"), headers=HX)
    assert response.status_code == 200
    row = re.search(rf'<li id="desk-post-{post.pk}".*?</li>', response.content.decode(), re.S).group(0)
    assert "badge--deleted" not in row and "desk__undo" not in row and "desk__actions" in row

    post.refresh_from_db()
    assert post.deleted_at is None
    assert not post.is_pinned  # deleting unpinned it; Undo does not pin again
    assert post.version == 3  # published 1, deleted 2, restored 3
    assert kinds(blog) == ["post.created", "post.deleted", "post.updated"]
    event = blog.events.last()
    assert (event.post, event.actor) == (post, editor)
    # The event readers get carries the post's markup: the live client inserts a post it does not have.
    payload = render_event(events_for_rendering().get(pk=event.pk))
    assert payload["kind"] == "post.updated" and f'id="post-{post.pk}"' in payload["html"]
    # And a reader loading the page sees it again.
    assert f'id="post-{post.pk}"' in editor_client.get(blog.get_absolute_url()).content.decode()


def test_restoring_a_post_that_is_not_deleted_changes_nothing():
    blog = LiveBlogFactory()
    post = published(blog)
    services.restore_post(post)
    post.refresh_from_db()
    assert post.version == 1 and kinds(blog) == ["post.created"]


def test_restore_still_works_just_inside_the_window():
    blog = LiveBlogFactory()
    post = deleted(blog, ago=services.RESTORE_WINDOW - timedelta(seconds=10))
    services.restore_post(post)
    post.refresh_from_db()
    assert post.deleted_at is None


def test_restore_after_the_window_is_refused_with_a_clear_message(editor_client):
    blog = LiveBlogFactory()
    post = deleted(blog, ago=services.RESTORE_WINDOW + timedelta(seconds=1))
    before = kinds(blog)

    with pytest.raises(ValidationError) as refused:
        services.restore_post(post)
    assert refused.value.code == "restore_expired"

    response = editor_client.post(action_url(blog, post, "restore"), headers=HX)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'role="alert"' in html and "can no longer be restored" in html
    # Long past the 30 s offer, the row no longer shows Undo.
    row = re.search(rf'<li id="desk-post-{post.pk}".*?</li>', html, re.S).group(0)
    assert "badge--deleted" in row and "desk__undo" not in row
    post.refresh_from_db()
    assert post.deleted_at is not None and kinds(blog) == before


def test_restore_without_javascript_redirects_with_the_message(editor_client):
    blog = LiveBlogFactory()
    post = deleted(blog, ago=services.RESTORE_WINDOW + timedelta(minutes=1))
    response = editor_client.post(action_url(blog, post, "restore"), follow=True)
    assert response.redirect_chain[-1][0] == composer_url(blog)
    assert "can no longer be restored" in response.content.decode()


def test_restore_on_an_archived_blog_is_refused(editor_client):
    blog = LiveBlogFactory()
    post = deleted(blog)
    services.archive_blog(blog)
    blog.refresh_from_db()
    before = kinds(blog)

    with pytest.raises(services.BlogClosedError):
        services.restore_post(post)
    response = editor_client.post(action_url(blog, post, "restore"), headers=HX)
    assert "desk__undo" not in response.content.decode()  # an archived blog offers no Undo
    post.refresh_from_db()
    assert post.deleted_at is not None and kinds(blog) == before


def test_undo_offer_ends_after_thirty_seconds_in_the_list(editor_client):
    blog = LiveBlogFactory()
    fresh = deleted(blog, headline="Gerade gelöscht")
    old = deleted(blog, headline="Vorhin gelöscht", ago=timedelta(seconds=31))
    html = editor_client.get(reverse("admin:posts_liveblog_composer_posts", args=[blog.pk])).content.decode()
    undo = re.search(rf'<li id="desk-post-{fresh.pk}".*?data-undo-seconds="(\d+)"', html, re.S)
    assert undo and 0 < int(undo.group(1)) <= 30
    old_row = re.search(rf'<li id="desk-post-{old.pk}".*?</li>', html, re.S).group(0)
    assert "desk__undo" not in old_row


def test_restore_needs_the_delete_permission(client):
    blog = LiveBlogFactory()
    post = deleted(blog)
    user = StaffFactory()
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_post", "change_post"]))
    client.force_login(user)
    assert client.post(action_url(blog, post, "restore")).status_code == 403
    post.refresh_from_db()
    assert post.deleted_at is not None


def test_restore_of_a_post_of_another_blog_is_not_found(editor_client):
    blog, other = LiveBlogFactory(), LiveBlogFactory()
    post = deleted(other)
    assert editor_client.post(action_url(blog, post, "restore")).status_code == 404
    post.refresh_from_db()
    assert post.deleted_at is not None


# ---- the live preview ---------------------------------------------------------------------------

FIXED_NOW = datetime(2026, 11, 25, 18, 30, tzinfo=UTC)


def test_preview_renders_the_reader_partial_with_sanitized_markup_and_writes_nothing(
    editor_client, monkeypatch
):
    monkeypatch.setattr(timezone, "now", lambda: FIXED_NOW)
    blog = LiveBlogFactory(language=LiveBlog.Language.GERMAN, time_zone="Europe/Berlin")
    first, second = AuthorFactory(name="Lena Hartwig"), AuthorFactory(name="Jonas Beck")
    data = {
        "headline": "Erste Hochrechnung",
        "body": (
            '<p>Die <strong>SPD</strong> <em>vorn</em>.</p><script>alert(1)</script><p onclick="x()">Mehr</p>'
        ),
        "authors": [second.pk, first.pk, "nonsense"],
        "is_important": "on",
        "source": "dpa",
        "image_alt": "",
        "image_caption": "",
        "image_credit": "",
    }
    response = editor_client.post(preview_url(blog), data, headers=HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script" not in html and "onclick" not in html and "alert(1)" not in html
    assert "<strong>SPD</strong>" in html and "Erste Hochrechnung" in html
    assert html.index("Jonas Beck") < html.index("Lena Hartwig")  # the byline in the picked order
    assert "post--important" in html and "dpa" in html
    assert "18:30" not in html and "19:30" in html  # the blog's time zone (CET), not UTC
    assert not Post.objects.exists() and not Event.objects.exists()

    # Exactly what readers get for the same post once it is published (id and link aside).
    post = services.publish_post(
        Post(
            live_blog=blog,
            headline=data["headline"],
            body=data["body"],
            is_important=True,
            source="dpa",
            published_at=FIXED_NOW,
        ),
        authors=[second, first],
    )
    with translation.override(blog.language), timezone.override(blog.time_zone):
        expected = render_to_string("posts/liveblog_detail.html#post", {"post": post})
    expected = expected.replace(f'id="post-{post.pk}"', 'id="post-preview"').replace(
        f'href="{post.get_absolute_url()}"', 'href="#post-preview"'
    )
    assert html == expected


def test_preview_of_an_empty_form_shows_the_note(editor_client):
    blog = LiveBlogFactory()
    response = editor_client.post(preview_url(blog), {"headline": " ", "body": "<p></p>"}, headers=HX)
    assert response.status_code == 200
    assert "desk__preview-empty" in response.content.decode()


def test_preview_ignores_an_uploaded_file_and_validates_nothing(editor_client, media_root):
    blog = LiveBlogFactory()
    response = editor_client.post(
        preview_url(blog), {"headline": "x" * 400, "image_upload": png(), "body": "<p>Bild</p>"}, headers=HX
    )
    assert response.status_code == 200 and "<figure" not in response.content.decode()
    assert not Post.objects.exists() and not Event.objects.exists()
    assert not media_root.exists() or not any(media_root.rglob("*.webp"))


def test_preview_needs_view_and_add_permission(client):
    blog = LiveBlogFactory()
    url = preview_url(blog)
    assert client.post(url, {"headline": "x"}).status_code == 302  # anonymous: to the login
    viewer = StaffFactory()
    viewer.user_permissions.add(Permission.objects.get(codename="view_post"))
    client.force_login(viewer)
    assert client.post(url, {"headline": "x"}).status_code == 403
    client.force_login(StaffFactory())
    assert client.post(url, {"headline": "x"}).status_code == 403


def test_preview_is_a_csrf_protected_post(editor, editor_client):
    from django.test import Client

    blog = LiveBlogFactory()
    assert editor_client.get(preview_url(blog)).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(editor)
    assert strict.post(preview_url(blog), {"headline": "x"}).status_code == 403


# ---- the page: preview pane, draft key, shortcuts, thumbnails -----------------------------------


def test_composer_page_has_the_preview_pane_and_the_draft_key(editor_client):
    blog = LiveBlogFactory()
    html = editor_client.get(composer_url(blog)).content.decode()
    assert 'id="composer-preview"' in html and f'hx-post="{preview_url(blog)}"' in html
    assert 'hx-include="#composer-form"' in html and 'hx-params="not image_upload"' in html
    assert f'data-draft-key="liveblog:composer-draft:{blog.pk}"' in html
    assert 'id="composer-draft"' in html and "hx-on" not in html  # no inline script (CSP)


def test_publish_response_marks_the_fresh_form_as_published(editor_client):
    blog = LiveBlogFactory()
    response = editor_client.post(composer_url(blog), {"headline": "Neu"}, headers=HX)
    post = Post.objects.get()
    assert f'data-published="{post.pk}"' in response.content.decode()
    failed = editor_client.post(composer_url(blog), {"headline": ""}, headers=HX).content.decode()
    assert "data-published" not in failed  # the draft stays until a publish succeeds


def test_list_shows_author_avatars_and_image_thumbnails(editor_client, media_root):
    blog = LiveBlogFactory()
    author = AuthorFactory(name="Lena Hartwig")
    author.replace_avatar(process_avatar(png((300, 300), "lena.png")))
    post = services.publish_post(
        Post(live_blog=blog, headline="Mit Bild", image_alt="Ein rotes Rechteck"),
        authors=[author],
        image=process_photo(png()),
    )
    html = editor_client.get(composer_url(blog)).content.decode()
    row = re.search(rf'<li id="desk-post-{post.pk}".*?</li>', html, re.S).group(0)
    src = re.escape(author.avatar_64)
    assert re.search(rf'<img class="desk__avatar" src="{src}"\s+width="24" height="24" alt="">', row)
    assert f'src="{post.image_url(480)}"' in row and 'alt="Ein rotes Rechteck"' in row


@pytest.mark.django_db(transaction=True)  # real commits: the push runs inside the request, as in production
def test_a_publish_whose_push_fails_is_saved_and_says_live_delivery_is_delayed(editor_client, monkeypatch):
    from posts import broadcast

    class BrokenLayer:
        async def group_send(self, group, message):
            raise ConnectionError("redis is down")

    monkeypatch.setattr(broadcast, "get_channel_layer", BrokenLayer)
    blog = LiveBlogFactory()
    response = editor_client.post(
        composer_url(blog), {"headline": "Eilmeldung", "body": "<p>Text</p>"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Published: Eilmeldung" in html and "Live delivery is delayed" in html
    assert Post.objects.filter(live_blog=blog, headline="Eilmeldung").exists()

    # The next publish, with the layer back, says nothing of the kind.
    monkeypatch.setattr(broadcast._breaker, "open_until", 0.0)
    monkeypatch.setattr(broadcast, "get_channel_layer", lambda: None)
    html = editor_client.post(
        composer_url(blog), {"headline": "Zweite", "body": ""}, headers={"HX-Request": "true"}
    ).content.decode()
    assert "Published: Zweite" in html and "Live delivery is delayed" not in html
