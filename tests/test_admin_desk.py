"""The editors' desk: admin flows through the test client, as an editor would use them."""

import io
import warnings

import pytest
from django.core.paginator import UnorderedObjectListWarning
from django.urls import reverse
from PIL import Image

from posts.models import Event, LiveBlog, Post
from tests.factories import AuthorFactory, LiveBlogFactory, PostFactory, StaffFactory

pytestmark = pytest.mark.django_db


def png_upload(name="photo.png", size=(900, 600)):
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 60, 40)).save(buffer, format="PNG")
    buffer.name = name
    buffer.seek(0)
    return buffer


def composer_url(blog):
    return reverse("admin:posts_liveblog_composer", args=[blog.pk])


def action_url(blog, post, action):
    return reverse("admin:posts_liveblog_composer_action", args=[blog.pk, post.pk, action])


def test_editor_logs_in_creates_blog_goes_live_and_publishes(client, editor):
    editor.set_password("s3cret-pass-phrase")
    editor.save()
    response = client.post(
        reverse("admin:login"),
        {"username": editor.username, "password": "s3cret-pass-phrase", "next": "/admin/"},
    )
    assert response.status_code == 302

    response = client.post(
        reverse("admin:posts_liveblog_add"),
        {
            "kicker": "Unwetter",
            "title": "Sturm über dem Norden",
            "slug": "sturm-norden",
            "teaser": "Alles Wichtige.",
            "language": "de",
            "time_zone": "Europe/Berlin",
            "credit_line": "© dpa",
            "topic_title": "",
            "topic_url": "",
            "successor": "",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    blog = LiveBlog.objects.get(slug="sturm-norden")
    assert blog.is_draft

    changelist = reverse("admin:posts_liveblog_changelist")
    confirm = client.post(changelist, {"action": "go_live_action", "_selected_action": [blog.pk]})
    assert confirm.status_code == 200 and "Readers will see them" in confirm.content.decode()
    blog.refresh_from_db()
    assert blog.is_draft  # nothing happens before the confirmation
    client.post(changelist, {"action": "go_live_action", "_selected_action": [blog.pk], "confirmed": "yes"})
    blog.refresh_from_db()
    assert blog.is_live and blog.coverage_started_at

    author = AuthorFactory()
    response = client.post(
        composer_url(blog),
        {
            "headline": "Erste Böen erreichen die Küste",
            "body": "<p>Der Wind <strong>frischt</strong> auf.</p>",
            "authors": [author.pk],
            "is_important": "on",
        },
    )
    assert response.status_code == 302
    post = Post.objects.get(live_blog=blog)
    assert post.is_important and post.ordered_authors == [author]
    assert list(blog.events.values_list("kind", flat=True)) == ["blog.live", "post.created"]


def test_composer_publishes_with_htmx_and_returns_fresh_form_and_list(editor_client):
    blog = LiveBlogFactory()
    response = editor_client.post(
        composer_url(blog), {"headline": "Neue Lage", "body": "<p>Text</p>"}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="composer-form"' in html and 'value="Neue Lage"' not in html  # the form is cleared
    assert 'id="composer-posts"' in html and "Neue Lage" in html  # the list shows the post
    assert 'hx-swap-oob="true"' in html


def test_failed_composer_save_keeps_every_field_and_shows_the_error(editor_client):
    blog = LiveBlogFactory()
    response = editor_client.post(
        composer_url(blog),
        {
            "headline": "",
            "body": "<p>Ein langer, mühsam getippter Text</p>",
            "source": "dpa",
            "image_caption": "Bildunterschrift",
        },
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert 'id="id_headline_error"' in html
    assert "mühsam getippter Text" in html and 'value="dpa"' in html and 'value="Bildunterschrift"' in html
    assert not Post.objects.exists() and not Event.objects.exists()


def test_image_without_alt_text_is_refused_with_a_field_error(editor_client):
    blog = LiveBlogFactory()
    response = editor_client.post(composer_url(blog), {"headline": "Mit Bild", "image_upload": png_upload()})
    assert response.status_code == 422
    assert "Describe the image" in response.content.decode()
    assert not Post.objects.exists()


def test_composer_publishes_an_image_with_alt_text(editor_client, media_root):
    blog = LiveBlogFactory()
    response = editor_client.post(
        composer_url(blog),
        {
            "headline": "Mit Bild",
            "image_upload": png_upload(),
            "image_alt": "Ein rotes Rechteck",
            "image_caption": "Rot",
            "image_credit": "Foto: Test",
        },
    )
    assert response.status_code == 302
    post = Post.objects.get()
    assert post.image.name.endswith(".webp") and (media_root / post.image.name).exists()
    assert post.image_width == 900


def test_composer_list_answers_204_until_the_blog_changes(editor_client):
    blog = LiveBlogFactory()
    url = reverse("admin:posts_liveblog_composer_posts", args=[blog.pk])
    assert editor_client.get(url, {"seq": blog.last_seq}).status_code == 204
    editor_client.post(composer_url(blog), {"headline": "Von einer Kollegin"})
    response = editor_client.get(url, {"seq": 0}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and "Von einer Kollegin" in response.content.decode()


@pytest.mark.parametrize(
    ("action", "field", "expected", "kind"),
    [
        ("important", "is_important", True, "post.important"),
        ("pin", "is_pinned", True, "post.pinned"),
    ],
)
def test_composer_actions_change_the_post_through_the_services(editor_client, action, field, expected, kind):
    blog = LiveBlogFactory()
    post = PostFactory(live_blog=blog)
    response = editor_client.post(action_url(blog, post, action), headers={"HX-Request": "true"})
    assert response.status_code == 200
    post.refresh_from_db()
    assert getattr(post, field) is expected
    assert blog.events.get().kind == kind


def test_composer_delete_is_soft_and_logged(editor_client):
    blog = LiveBlogFactory()
    post = PostFactory(live_blog=blog)
    editor_client.post(action_url(blog, post, "delete"))
    post.refresh_from_db()
    assert post.deleted_at is not None
    assert blog.events.get().kind == "post.deleted"


def test_action_on_a_post_of_another_blog_changes_nothing(editor_client):
    blog, other = LiveBlogFactory(), LiveBlogFactory()
    post = PostFactory(live_blog=other)
    response = editor_client.post(action_url(blog, post, "delete"))
    assert response.status_code == 404
    post.refresh_from_db()
    assert post.deleted_at is None and not Event.objects.exists()


def test_edit_through_the_admin_change_form_goes_through_the_service(editor_client):
    blog = LiveBlogFactory()
    author = AuthorFactory()
    post = PostFactory(live_blog=blog, headline="Alt")
    response = editor_client.post(
        reverse("admin:posts_post_change", args=[post.pk]),
        {
            "live_blog": blog.pk,
            "headline": "Neu",
            "body": "<p>Neu<script>x()</script></p>",
            "authors": [author.pk],
            "base_version": post.version,
            "published_at_0": "2026-11-25",
            "published_at_1": "12:00:00",
            "image_alt": "",
            "image_caption": "",
            "image_credit": "",
            "source": "",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    post.refresh_from_db()
    assert post.headline == "Neu" and post.body == "<p>Neu</p>" and post.edited_at
    assert blog.events.get().kind == "post.updated"


def test_stale_admin_edit_shows_a_conflict_and_keeps_the_editors_text(editor_client):
    blog = LiveBlogFactory()
    post = PostFactory(live_blog=blog, headline="Alt")
    opened = post.version
    post.headline = "Von der Kollegin"
    from posts import services

    services.update_post(post)
    response = editor_client.post(
        reverse("admin:posts_post_change", args=[post.pk]),
        {
            "live_blog": blog.pk,
            "headline": "Meine Fassung",
            "body": "",
            "base_version": opened,
            "published_at_0": "2026-11-25",
            "published_at_1": "12:00:00",
        },
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Von der Kollegin" in html and 'value="Meine Fassung"' in html
    post.refresh_from_db()
    assert post.headline == "Von der Kollegin"


def test_admin_add_form_preselects_the_editors_own_author(editor_client, editor):
    author = AuthorFactory(user=editor)
    response = editor_client.get(reverse("admin:posts_post_add"))
    assert response.status_code == 200
    assert response.context["adminform"].form["authors"].value() == [author.pk]


def test_admin_add_form_publishes_with_every_field(editor_client, media_root):
    blog = LiveBlogFactory()
    first, second = AuthorFactory(), AuthorFactory()
    response = editor_client.post(
        reverse("admin:posts_post_add"),
        {
            "live_blog": blog.pk,
            "headline": "Vollständig",
            "body": "<p>Alles</p>",
            "authors": [second.pk, first.pk],
            "is_important": "on",
            "is_pinned": "on",
            "image_upload": png_upload(),
            "image_alt": "Rot",
            "image_caption": "Eine Fläche",
            "image_credit": "Foto: Test",
            "source": "dpa",
            "published_at_0": "2026-11-25",
            "published_at_1": "12:00:00",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    post = Post.objects.get()
    assert (post.is_important, post.is_pinned, post.source, post.image_credit) == (
        True,
        True,
        "dpa",
        "Foto: Test",
    )
    assert post.ordered_authors == [second, first]
    assert post.image


def test_admin_delete_is_a_soft_delete(editor_client):
    post = PostFactory()
    response = editor_client.post(reverse("admin:posts_post_delete", args=[post.pk]), {"post": "yes"})
    assert response.status_code == 302
    post.refresh_from_db()
    assert post.deleted_at is not None
    assert post.events.get().kind == "post.deleted"


def test_archived_blog_is_read_only_in_the_admin_and_composer(editor_client):
    blog = LiveBlogFactory(state=LiveBlog.State.ARCHIVED)
    post = PostFactory(live_blog=blog)
    assert editor_client.post(composer_url(blog), {"headline": "Zu spät"}).status_code == 422
    response = editor_client.post(reverse("admin:posts_post_change", args=[post.pk]), {"headline": "x"})
    assert response.status_code == 403
    editor_client.post(action_url(blog, post, "delete"))
    assert (
        editor_client.post(
            reverse("admin:posts_post_add"),
            {
                "live_blog": blog.pk,
                "headline": "x",
                "published_at_0": "2026-11-25",
                "published_at_1": "12:00:00",
            },
        ).status_code
        == 200
    )
    post.refresh_from_db()
    assert post.deleted_at is None
    assert Post.objects.count() == 1 and not Event.objects.exists()


def test_archive_action_asks_first_then_archives(editor_client):
    blog = LiveBlogFactory()
    changelist = reverse("admin:posts_liveblog_changelist")
    editor_client.post(changelist, {"action": "archive_action", "_selected_action": [blog.pk]})
    blog.refresh_from_db()
    assert blog.is_live
    editor_client.post(
        changelist, {"action": "archive_action", "_selected_action": [blog.pk], "confirmed": "yes"}
    )
    blog.refresh_from_db()
    assert blog.is_archived and blog.coverage_ended_at


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:posts_liveblog_changelist",
        "admin:posts_post_changelist",
        "admin:posts_post_add",
        "admin:authors_author_changelist",
    ],
)
def test_staff_without_editors_group_is_refused(client, url_name):
    client.force_login(StaffFactory())
    assert client.get(reverse(url_name)).status_code == 403


def test_staff_without_editors_group_cannot_use_the_composer(client):
    blog = LiveBlogFactory()
    post = PostFactory(live_blog=blog)
    client.force_login(StaffFactory())
    assert client.get(composer_url(blog)).status_code == 403
    assert client.post(composer_url(blog), {"headline": "x"}).status_code == 403
    assert client.post(action_url(blog, post, "delete")).status_code == 403
    post.refresh_from_db()
    assert post.deleted_at is None and Post.objects.count() == 1


def test_anonymous_is_sent_to_login(client):
    blog = LiveBlogFactory()
    response = client.get(composer_url(blog))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_bulk_actions_on_posts_of_an_archived_blog_change_nothing(editor_client):
    blog = LiveBlogFactory(state=LiveBlog.State.ARCHIVED)
    posts = [PostFactory(live_blog=blog) for _ in range(3)]
    changelist = reverse("admin:posts_post_changelist")
    before = list(Post.objects.order_by("pk").values())
    for action in ["mark_important", "unmark_important", "delete_selected"]:
        editor_client.post(
            changelist, {"action": action, "_selected_action": [p.pk for p in posts], "post": "yes"}
        )
    assert list(Post.objects.order_by("pk").values()) == before
    assert not Event.objects.exists()


def test_go_live_action_cannot_reopen_an_archived_blog(editor_client):
    blog = LiveBlogFactory(state=LiveBlog.State.ARCHIVED)
    changelist = reverse("admin:posts_liveblog_changelist")
    editor_client.post(
        changelist, {"action": "go_live_action", "_selected_action": [blog.pk], "confirmed": "yes"}
    )
    blog.refresh_from_db()
    assert blog.is_archived and not Event.objects.exists()


def test_reopening_needs_its_own_permission(editor_client, editor):
    blog = LiveBlogFactory(state=LiveBlog.State.ARCHIVED)
    changelist = reverse("admin:posts_liveblog_changelist")
    data = {"action": "reopen_action", "_selected_action": [blog.pk], "confirmed": "yes"}
    editor_client.post(changelist, data)
    blog.refresh_from_db()
    assert blog.is_archived
    from django.contrib.auth.models import Permission

    editor.user_permissions.add(Permission.objects.get(codename="reopen_liveblog"))
    editor_client.post(changelist, data)
    blog.refresh_from_db()
    assert blog.is_live and blog.events.get().kind == "blog.reopened"


def test_successor_picker_lists_blogs_newest_first_in_stable_pages(editor_client):
    blogs = [LiveBlogFactory(title=f"Wahl {n}") for n in range(3)]
    query = {"app_label": "posts", "model_name": "liveblog", "field_name": "successor", "term": "Wahl"}
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnorderedObjectListWarning)
        response = editor_client.get("/admin/autocomplete/", query)
    assert response.status_code == 200
    assert [int(r["id"]) for r in response.json()["results"]] == [b.pk for b in reversed(blogs)]


def blog_form(blog: LiveBlog, **changes) -> dict:
    fields = ["kicker", "title", "slug", "teaser", "language", "time_zone", "credit_line", "topic_title"]
    return {
        **{name: getattr(blog, name) for name in fields},
        "topic_url": blog.topic_url,
        "successor": "",
        **changes,
    }


def test_a_draft_blog_can_change_its_slug(editor_client):
    blog = LiveBlogFactory(slug="entwurf", state=LiveBlog.State.DRAFT)
    url = reverse("admin:posts_liveblog_change", args=[blog.pk])
    response = editor_client.post(url, blog_form(blog, slug="besserer-name"))
    assert response.status_code == 302
    blog.refresh_from_db()
    assert blog.slug == "besserer-name"


def test_a_live_blogs_slug_cannot_change_so_its_links_and_open_pages_keep_working(editor_client):
    from posts import services

    blog = LiveBlogFactory(slug="wahlabend", state=LiveBlog.State.DRAFT)
    services.go_live(blog)
    url = reverse("admin:posts_liveblog_change", args=[blog.pk])
    page = editor_client.get(url).content.decode()
    assert 'name="slug"' not in page  # shown, not editable

    response = editor_client.post(url, blog_form(blog, slug="umbenannt", title="Wahlabend 2026"))
    assert response.status_code == 302
    blog.refresh_from_db()
    assert (blog.slug, blog.title) == ("wahlabend", "Wahlabend 2026")
    assert editor_client.get("/live/wahlabend/").status_code == 200
