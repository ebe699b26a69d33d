"""export_liveblog / import_liveblog: a static archive that opens from disk and restores the blog."""

import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from PIL import Image

from archive import checks as exchange_checks
from authors.models import Author
from images.processing import process_avatar, process_photo
from posts import services
from posts.models import Event, LiveBlog, Post, PostAuthor
from tests.factories import AuthorFactory, LiveBlogFactory, PostFactory

pytestmark = pytest.mark.django_db


def jpeg(size, color=(200, 40, 40)) -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG")
    return SimpleUploadedFile("photo.jpg", out.getvalue(), content_type="image/jpeg")


def publish(blog, headline, authors=(), image=None, **fields):
    post = Post(live_blog=blog, headline=headline, **fields)
    return services.publish_post(post, authors=authors, image=image)


def newsroom_blog() -> LiveBlog:
    """An archived German blog with an image, avatars, an edit, a pin and a deleted post."""
    blog = LiveBlogFactory(
        slug="landtagswahl",
        state=LiveBlog.State.DRAFT,
        kicker="Landtagswahl",
        title="Der Wahlabend im Liveblog",
        credit_line="© dpa/rtr",
        topic_title="Alles zur Wahl",
        topic_url="https://example.org/wahl",
    )
    anna = AuthorFactory(name="Anna Berg", slug="anna-berg", bio="Landespolitik.")
    anna.replace_avatar(process_avatar(jpeg((300, 300), (20, 90, 160))))
    ben = AuthorFactory(name="Ben Roth", slug="ben-roth")
    services.go_live(blog)
    first = publish(
        blog,
        "Wahllokale geöffnet",
        authors=[ben, anna],
        body="<p>Seit <strong>8 Uhr</strong> wird gewählt.</p>",
        image=process_photo(jpeg((1200, 800))),
        image_alt="Menschen vor einem Wahllokal",
        image_caption="Schlange vor dem Rathaus",
        image_credit="Foto Agentur",
        source="dpa",
    )
    second = publish(blog, "Erste Prognose", authors=[anna], is_important=True)
    third = publish(blog, "Falsche Zahl gemeldet", authors=[ben])
    services.delete_post(third)
    second.headline = "Erste Prognose: knappes Rennen"
    services.update_post(second)
    services.set_pinned(first, True)
    services.archive_blog(blog)
    blog.refresh_from_db()
    return blog


def export(slug, directory) -> Path:
    call_command("export_liveblog", slug, str(directory), stdout=io.StringIO())
    return Path(directory)


def import_(directory):
    call_command("import_liveblog", str(directory), stdout=io.StringIO(), stderr=io.StringIO())


def clear_database() -> None:
    LiveBlog.objects.all().delete()  # posts, post authors and events go with it
    Author.objects.all().delete()


def media_files(root) -> dict[str, bytes]:
    root = Path(root)
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in (LiveBlog, Post, PostAuthor, Event, Author)}


@pytest.fixture
def second_media_root(settings, tmp_path):
    """Point storage at an empty MEDIA_ROOT, as on another server."""

    def switch():
        settings.MEDIA_ROOT = tmp_path / "media-target"
        return settings.MEDIA_ROOT

    return switch


# --- round trip ------------------------------------------------------------------------------


def test_export_import_export_gives_identical_files(tmp_path, second_media_root):
    newsroom_blog()
    first = export("landtagswahl", tmp_path / "first")
    clear_database()
    target = second_media_root()

    import_(first)
    second = export("landtagswahl", tmp_path / "second")

    assert (second / "liveblog.json").read_bytes() == (first / "liveblog.json").read_bytes()
    assert (second / "index.html").read_bytes() == (first / "index.html").read_bytes()
    assert media_files(second / "media") == media_files(first / "media")
    assert set(media_files(target)) == set(media_files(first / "media"))


def test_import_restores_history_as_it_was(tmp_path, second_media_root, django_capture_on_commit_callbacks):
    original = newsroom_blog()
    before = {
        post.headline: (post.published_at, post.updated_at, post.edited_at, post.deleted_at, post.version)
        for post in original.posts.all()
    }
    events = list(original.events.values_list("seq", "kind", "post__headline", "created_at"))
    first = export("landtagswahl", tmp_path / "first")
    clear_database()
    second_media_root()

    with django_capture_on_commit_callbacks() as callbacks:
        import_(first)

    assert callbacks == []  # restoring history is not news: nothing is broadcast
    blog = LiveBlog.objects.get(slug="landtagswahl")
    assert blog.state == LiveBlog.State.ARCHIVED
    assert (blog.coverage_started_at, blog.coverage_ended_at) == (
        original.coverage_started_at,
        original.coverage_ended_at,
    )
    assert (blog.created_at, blog.updated_at, blog.last_seq) == (
        original.created_at,
        original.updated_at,
        original.last_seq,
    )
    after = {
        post.headline: (post.published_at, post.updated_at, post.edited_at, post.deleted_at, post.version)
        for post in blog.posts.all()
    }
    assert after == before
    assert list(blog.events.values_list("seq", "kind", "post__headline", "created_at")) == events
    opening = blog.posts.get(headline="Wahllokale geöffnet")
    assert [a.slug for a in opening.ordered_authors] == ["ben-roth", "anna-berg"]
    assert opening.is_pinned
    assert opening.image.storage.exists(opening.image.name)
    anna = Author.objects.get(slug="anna-berg")
    assert anna.bio == "Landespolitik."
    assert anna.avatar.storage.exists(anna.avatar.name)


def test_import_reuses_an_author_with_the_same_slug(tmp_path, second_media_root):
    newsroom_blog()
    first = export("landtagswahl", tmp_path / "first")
    clear_database()
    second_media_root()
    local = AuthorFactory(slug="anna-berg", name="Anna Berg (Lokalredaktion)")

    import_(first)

    assert Author.objects.filter(slug="anna-berg").count() == 1
    local.refresh_from_db()
    assert local.name == "Anna Berg (Lokalredaktion)"
    assert not local.avatar  # an existing author is used as is
    post = Post.objects.get(headline="Erste Prognose: knappes Rennen")
    assert post.ordered_authors == [local]


def test_successor_is_linked_when_it_exists_in_the_target(tmp_path):
    successor = LiveBlogFactory(slug="nach-der-wahl")
    blog = LiveBlogFactory(slug="wahlabend", successor=successor)
    first = export("wahlabend", tmp_path / "first")
    blog.delete()

    import_(first)

    assert LiveBlog.objects.get(slug="wahlabend").successor == successor


# --- the archive page ------------------------------------------------------------------------


def test_index_html_shows_visible_posts_without_scripts(tmp_path):
    newsroom_blog()
    PostFactory(
        live_blog=LiveBlog.objects.get(slug="landtagswahl"),
        headline="Roh geschrieben",
        body='<p onclick="x()">Text</p><script>alert(1)</script>',
    )
    html = (export("landtagswahl", tmp_path / "out") / "index.html").read_text()

    for headline in ("Wahllokale geöffnet", "Erste Prognose: knappes Rennen", "Roh geschrieben"):
        assert headline in html
    assert "Falsche Zahl gemeldet" not in html
    assert "<script" not in html.lower()
    assert "onclick" not in html
    assert "<style>" in html
    assert "<link" not in html
    assert 'href="/' not in html and "/authors/" not in html  # no way back into the site
    assert 'id="post-1"' in html and 'href="#post-2"' in html  # keys, not database ids
    assert "Dieser Liveblog ist archiviert" in html
    assert "Wichtige Updates" in html
    assert "Foto: Foto Agentur" in html
    assert "Schlange vor dem Rathaus" in html
    assert "© dpa/rtr" in html


def test_index_html_links_only_files_in_the_export(tmp_path):
    newsroom_blog()
    out = export("landtagswahl", tmp_path / "out")
    html = (out / "index.html").read_text()

    links = re.findall(r'src="([^"]+)"', html)
    for srcset in re.findall(r'srcset="([^"]+)"', html):
        links += [candidate.strip().split(" ")[0] for candidate in srcset.split(",")]
    assert len(links) >= 5  # photo, its renditions and the avatar
    for link in links:
        assert not link.startswith(("/", "http")), link
        assert (out / link).is_file(), link


def test_index_html_speaks_the_blogs_language_and_time_zone(tmp_path):
    blog = LiveBlogFactory(
        slug="election-night", language="en", time_zone="America/New_York", state=LiveBlog.State.LIVE
    )
    PostFactory(live_blog=blog, headline="Polls close", published_at=datetime(2025, 2, 23, 17, 0, tzinfo=UTC))
    services.archive_blog(blog)

    html = (export("election-night", tmp_path / "out") / "index.html").read_text()

    assert "This live blog is archived and no longer updated." in html
    assert 'datetime="2025-02-23T12:00:00-0500"' in html  # New York's time, in English formats:
    assert '<strong class="post__clock">noon</strong>' in html and "Feb. 23, 2025 · EST</span>" in html
    assert '<html lang="en">' in html


def test_json_holds_deleted_posts_authors_and_events_without_ids(tmp_path):
    newsroom_blog()
    data = json.loads((export("landtagswahl", tmp_path / "out") / "liveblog.json").read_text())

    assert data["format_version"] == exchange_checks.FORMAT_VERSION
    assert data["blog"]["state"] == "archived"
    assert data["blog"]["coverage_ended_at"]
    assert [post["key"] for post in data["posts"]] == [1, 2, 3]
    deleted = data["posts"][2]
    assert deleted["headline"] == "Falsche Zahl gemeldet" and deleted["deleted_at"]
    assert data["posts"][1]["edited_at"] and data["posts"][1]["version"] == 2
    assert data["posts"][0]["authors"] == ["ben-roth", "anna-berg"]
    assert [a["slug"] for a in data["authors"]] == ["anna-berg", "ben-roth"]
    assert [r["width"] for r in data["authors"][0]["avatar"]["renditions"]] == [64, 128, 256]
    assert [(e["seq"], e["kind"], e["post"]) for e in data["events"]] == [
        (1, "blog.live", None),
        (2, "post.created", 1),
        (3, "post.created", 2),
        (4, "post.created", 3),
        (5, "post.deleted", 3),
        (6, "post.updated", 2),
        (7, "post.pinned", 1),
        (8, "blog.archived", None),
    ]
    assert '"id"' not in json.dumps(data)


def test_export_refuses_a_directory_with_files(tmp_path):
    LiveBlogFactory(slug="wahl")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("keep me")
    with pytest.raises(CommandError, match="not an empty directory"):
        export("wahl", tmp_path / "out")
    assert (tmp_path / "out" / "notes.txt").read_text() == "keep me"


def test_export_with_a_lost_image_file_writes_nothing(tmp_path, media_root):
    newsroom_blog()
    next(Path(media_root, "posts").glob("*-480.webp")).unlink()

    with pytest.raises(CommandError, match=r"media/posts/\w+-480.webp is missing from storage"):
        export("landtagswahl", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_export_of_unknown_slug_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="No live blog has the slug"):
        export("gibt-es-nicht", tmp_path / "out")


# --- refused imports -------------------------------------------------------------------------


def test_second_import_is_refused_and_writes_nothing(tmp_path, second_media_root):
    newsroom_blog()
    first = export("landtagswahl", tmp_path / "first")
    clear_database()
    target = second_media_root()
    import_(first)
    rows, files = counts(), media_files(target)

    with pytest.raises(CommandError, match="“landtagswahl” exists already"):
        import_(first)

    assert counts() == rows
    assert media_files(target) == files


def test_failed_import_leaves_no_rows_and_no_files(tmp_path, second_media_root, monkeypatch):
    newsroom_blog()
    first = export("landtagswahl", tmp_path / "first")
    clear_database()
    target = second_media_root()

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Event.objects, "bulk_create", fail)
    with pytest.raises(RuntimeError):
        import_(first)

    assert counts() == {"LiveBlog": 0, "Post": 0, "PostAuthor": 0, "Event": 0, "Author": 0}
    assert media_files(target) == {}


def test_corrupt_json_is_a_clear_error(tmp_path):
    newsroom_blog()
    out = export("landtagswahl", tmp_path / "out")
    clear_database()
    (out / "liveblog.json").write_text('{"format_version": 1, "blog": {')

    with pytest.raises(CommandError, match=r"liveblog.json is not valid JSON \(line 1, column"):
        import_(out)
    assert counts()["LiveBlog"] == 0


def edit_json(directory: Path, change) -> None:
    path = directory / "liveblog.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format_version=2), "format_version 2; this version of Liveblog reads 1"),
        (lambda d: d.pop("format_version"), "format_version None"),
        (lambda d: d["blog"].pop("title"), r"blog.title is missing"),
        (lambda d: d["posts"][0].update(published_at="gestern"), r"posts\[0\].published_at is not an ISO"),
        (lambda d: d["events"][0].update(kind="post.exploded"), r"events\[0\].kind 'post.exploded'"),
        (lambda d: d["events"][1].update(post=99), r"events\[1\].post 99 is not the key"),
        (lambda d: d["posts"][0].update(authors=["niemand"]), r"posts\[0\].authors names"),
        (
            lambda d: d["posts"][0]["image"].update(file="media/../../secret-1.webp"),
            "is not a media file path",
        ),
        (
            lambda d: d["authors"][0]["avatar"]["renditions"][0].update(file="media/avatars/other-64.webp"),
            "is not named as a rendition",
        ),
    ],
)
def test_invalid_archive_is_refused_with_nothing_written(tmp_path, second_media_root, change, message):
    newsroom_blog()
    out = export("landtagswahl", tmp_path / "out")
    clear_database()
    target = second_media_root()
    edit_json(out, change)

    with pytest.raises(CommandError, match=message):
        import_(out)
    assert counts()["LiveBlog"] == counts()["Author"] == 0
    assert media_files(target) == {}


def test_missing_image_file_is_refused(tmp_path, second_media_root):
    newsroom_blog()
    out = export("landtagswahl", tmp_path / "out")
    clear_database()
    second_media_root()
    next((out / "media" / "posts").glob("*-480.webp")).unlink()

    with pytest.raises(CommandError, match="is missing from the export directory"):
        import_(out)
    assert counts()["LiveBlog"] == 0
