"""`manage.py load_demo`: the demo content `make run` shows, loaded through the services, idempotently."""

import io
import json
import re
import shutil
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from authors.models import Author
from demo import loader, schema
from images.processing import AVATAR_SIZES, rendition_of
from posts.models import Event, LiveBlog, Post, PostAuthor

pytestmark = pytest.mark.django_db

ALLOWED_BODY_TAGS = {"p", "strong", "em", "a", "ul", "ol", "li", "blockquote"}


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """PBKDF2's production work factor costs a second per hash; these tests hash several times."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def load_demo() -> str:
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    return out.getvalue()


@pytest.fixture
def loaded():
    return load_demo()


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count() for model in (LiveBlog, Post, PostAuthor, Event, Author, User)
    }


def media_files(root) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_creates_a_live_and_an_archived_blog_in_german(loaded):
    live = LiveBlog.objects.get(slug="wahlabend-demo")
    archived = LiveBlog.objects.get(slug="sturmtief-demo")
    assert live.state == LiveBlog.State.LIVE
    assert archived.state == LiveBlog.State.ARCHIVED
    for blog in (live, archived):
        assert blog.language == "de"
        assert blog.kicker and blog.title and blog.teaser
        assert blog.credit_line.startswith("©")
        assert blog.topic_title and blog.topic_url.startswith("https://example.org/themen/")
    assert live.coverage_ended_at is None
    assert archived.coverage_ended_at is not None
    assert "Demo loaded" in loaded


def test_posts_are_spread_over_the_past_and_coverage_starts_before_them(loaded):
    now = timezone.now()
    live = LiveBlog.objects.get(slug="wahlabend-demo")
    archived = LiveBlog.objects.get(slug="sturmtief-demo")
    assert live.posts.count() == 11
    assert archived.posts.count() == 5
    for blog in (live, archived):
        times = list(blog.posts.order_by("published_at").values_list("published_at", flat=True))
        assert len(set(times)) == len(times)
        assert times[-1] < now
        assert blog.coverage_started_at <= times[0]
    # The storm happened before the election evening.
    assert (
        archived.posts.latest("published_at").published_at < live.posts.earliest("published_at").published_at
    )


def test_has_important_posts_and_exactly_one_pinned_in_the_live_blog(loaded):
    assert 3 <= Post.objects.filter(is_important=True).count() <= 4
    pinned = Post.objects.filter(is_pinned=True)
    assert pinned.count() == 1
    assert pinned.get().live_blog.slug == "wahlabend-demo"


def test_one_post_has_a_processed_image_with_texts(loaded):
    post = Post.objects.exclude(image="").get()
    assert post.image_alt and post.image_caption and post.image_credit
    assert (post.image_width, post.image_height) == (1200, 800)
    assert default_storage.exists(post.image.name)
    assert post.image.name.endswith(".webp")
    for width in (480, 960):
        assert default_storage.exists(rendition_of(post.image.name, width))


def test_every_post_has_one_or_two_authors_and_some_a_source(loaded):
    for post in Post.objects.all():
        assert 1 <= post.post_authors.count() <= 2, post.headline
    assert Post.objects.exclude(source="").exists()


def test_bodies_use_only_the_composer_tags_and_german_quotes(loaded):
    for post in Post.objects.all():
        tags = set(re.findall(r"</?([a-z0-9]+)", post.body))
        assert tags <= ALLOWED_BODY_TAGS, (post.headline, tags - ALLOWED_BODY_TAGS)
        assert '"' not in re.sub(r"<[^>]*>", "", post.body), post.headline
    assert any("„" in post.body and "“" in post.body for post in Post.objects.all())


def test_three_authors_with_avatar_files(loaded):
    authors = Author.objects.all()
    assert authors.count() == 3
    for author in authors:
        assert author.role and author.bio
        assert author.avatar
        for size in AVATAR_SIZES:
            assert default_storage.exists(rendition_of(author.avatar.name, size)), (author, size)


def test_editor_can_log_in_is_in_editors_and_is_an_author(loaded, client):
    user = User.objects.get(username=loader.EDITOR_USERNAME)
    assert user.is_staff
    assert not user.is_superuser
    assert user.groups.filter(name="Editors").exists()
    assert Author.objects.get(user=user)
    response = client.post(
        "/admin/login/", {"username": "redaktion", "password": "liveblog-demo", "next": "/admin/"}
    )
    assert response.status_code == 302 and response["Location"] == "/admin/"


def test_event_log_of_each_blog_is_gapless_and_in_publishing_order(loaded):
    for blog in LiveBlog.objects.all():
        events = list(blog.events.order_by("seq"))
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert blog.last_seq == len(events)
        assert events[0].kind == Event.Kind.BLOG_LIVE
        created = [e for e in events if e.kind == Event.Kind.POST_CREATED]
        assert len(created) == blog.posts.count()
        published = [e.post.published_at for e in created]
        assert published == sorted(published)
    archived = LiveBlog.objects.get(slug="sturmtief-demo")
    assert archived.events.order_by("seq").last().kind == Event.Kind.BLOG_ARCHIVED


def test_second_run_changes_nothing(loaded, media_root):
    before, files = counts(), media_files(media_root)
    output = load_demo()
    assert "already loaded" in output
    assert counts() == before
    assert media_files(media_root) == files


def test_a_deleted_demo_blog_is_recreated_without_duplicating_authors_or_user(loaded):
    LiveBlog.objects.get(slug="sturmtief-demo").delete()
    output = load_demo()
    assert "sturmtief-demo" in output
    assert LiveBlog.objects.get(slug="sturmtief-demo").posts.count() == 5
    assert Author.objects.count() == 3
    assert User.objects.filter(username="redaktion").count() == 1
    assert Post.objects.filter(live_blog__slug="wahlabend-demo").count() == 11


def test_an_existing_redaktion_account_is_left_alone():
    User.objects.create_user("redaktion", password="someone-elses-secret")
    output = load_demo()
    user = User.objects.get(username="redaktion")
    assert user.check_password("someone-elses-secret")
    assert "left unchanged" in output
    assert LiveBlog.objects.count() == 2


def test_reader_pages_show_the_demo(loaded, client):
    page = client.get(reverse("liveblog-detail", kwargs={"slug": "wahlabend-demo"}))
    assert page.status_code == 200
    assert "Das Wichtigste in Kürze" in page.content.decode()
    page = client.get(reverse("liveblog-detail", kwargs={"slug": "sturmtief-demo"}))
    assert page.status_code == 200
    assert 'id="archive-notice"' in page.content.decode()


@pytest.mark.parametrize(
    ("local_now", "expected_day"),
    [
        (datetime(2026, 3, 10, 11, 0), 9),  # morning: last night's evening
        (datetime(2026, 3, 10, 21, 0), 9),  # the evening is not over yet
        (datetime(2026, 3, 10, 23, 0), 10),  # after the last post: this evening
    ],
)
def test_election_evening_is_the_latest_one_already_over(local_now, expected_day):
    tz = ZoneInfo(loader.TIME_ZONE)
    blogs = schema.read_content().blogs
    election = next(blog for blog in blogs if blog.slug == "wahlabend-demo")
    anchor = loader.blog_anchor(election, loader.demo_day(local_now.replace(tzinfo=tz), tz, blogs), tz)
    assert (anchor.day, anchor.hour, anchor.minute) == (expected_day, 18, 0)


def _set(path: str, value):
    """A change to one entry of a content file, as an editor's slip would make it."""

    def change(data):
        *parents, last = path.split(".")
        for key in parents:
            data = data[int(key)] if key.isdigit() else data[key]
        data[int(last) if last.isdigit() else last] = value

    return change


@pytest.mark.parametrize(
    ("file", "change", "expected"),
    [
        ("blogs/wahlabend.json", _set("posts.2.minutes", "zero"), ['post 3 ("Erste Prognose', '"minutes"']),
        ("blogs/sturmtief.json", _set("posts.1.authors", ["otto-normal"]), ["post 2", "otto-normal"]),
        ("blogs/sturmtief.json", _set("posts.0.is_importnat", True), ["post 1", "is_importnat"]),
        ("authors.json", _set("authors.1.color", "red"), ['author 2 ("daniel-okafor")', '"color"']),
        ("blogs/wahlabend.json", lambda data: data.pop("title"), ["top level", '"title" is missing']),
        ("blogs/sturmtief.json", None, ["line 1 column 2: not valid JSON"]),
    ],
)
def test_malformed_content_is_refused_naming_file_and_entry_and_nothing_is_written(
    file, change, expected, tmp_path, monkeypatch, media_root
):
    content = tmp_path / "content"
    shutil.copytree(schema.CONTENT_DIR, content)
    monkeypatch.setattr(schema, "CONTENT_DIR", content)
    target = content / file
    if change is None:
        target.write_text("{not json", encoding="utf-8")
    else:
        data = json.loads(target.read_text(encoding="utf-8"))
        change(data)
        target.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    before = counts()
    with pytest.raises(CommandError) as refused:
        load_demo()
    message = str(refused.value)
    assert file in message, message
    for part in expected:
        assert part in message, message
    # Checked before the first write: not even the blog in the good file is created.
    assert counts() == before
    assert not LiveBlog.objects.exists()
    assert media_files(media_root) == set()
