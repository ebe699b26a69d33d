"""archive_idle_blogs: live blogs without a new post for N days are archived through the service."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from posts.models import Event, LiveBlog
from tests.factories import LiveBlogFactory, PostFactory

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command("archive_idle_blogs", *args, stdout=out)
    return out.getvalue()


def days_ago(days: float):
    return timezone.now() - timedelta(days=days)


def live_blog(slug, last_post_days_ago=None, **fields):
    blog = LiveBlogFactory(slug=slug, coverage_started_at=days_ago(30), **fields)
    if last_post_days_ago is not None:
        PostFactory(live_blog=blog, published_at=days_ago(last_post_days_ago))
    return blog


def state(blog) -> str:
    blog.refresh_from_db()
    return blog.state


def test_idle_live_blog_is_archived_with_an_event():
    idle = live_blog("idle", last_post_days_ago=10)

    output = run("--days", "7")

    assert state(idle) == LiveBlog.State.ARCHIVED
    assert idle.coverage_ended_at is not None
    assert list(Event.objects.filter(live_blog=idle).values_list("seq", "kind")) == [(1, "blog.archived")]
    assert output.startswith("archived idle “")


def test_recent_live_blog_and_drafts_are_left_alone():
    recent = live_blog("recent", last_post_days_ago=2)
    draft = live_blog("draft", last_post_days_ago=40, state=LiveBlog.State.DRAFT)

    output = run("--days", "7")

    assert state(recent) == LiveBlog.State.LIVE
    assert state(draft) == LiveBlog.State.DRAFT
    assert not Event.objects.exists()
    assert output == "No live blog has been idle for 7 days.\n"


def test_deleted_posts_do_not_count_as_activity():
    blog = live_blog("only-deleted-recently", last_post_days_ago=20)
    PostFactory(live_blog=blog, published_at=days_ago(1), deleted_at=days_ago(1))

    run("--days", "7")

    assert state(blog) == LiveBlog.State.ARCHIVED


def test_blog_without_posts_counts_from_coverage_start():
    started_long_ago = live_blog("started-long-ago")
    just_started = LiveBlogFactory(slug="just-started", coverage_started_at=days_ago(1))

    run("--days", "7")

    assert state(started_long_ago) == LiveBlog.State.ARCHIVED
    assert state(just_started) == LiveBlog.State.LIVE


def test_dry_run_lists_and_changes_nothing():
    idle = live_blog("idle", last_post_days_ago=10)
    live_blog("recent", last_post_days_ago=1)

    output = run("--days", "7", "--dry-run")

    assert output.splitlines()[0].startswith("would archive idle “")
    assert len(output.splitlines()) == 1
    assert state(idle) == LiveBlog.State.LIVE
    assert not Event.objects.exists()


def test_default_days_come_from_the_setting(settings):
    settings.LIVEBLOG_AUTO_ARCHIVE_DAYS = 30
    blog = live_blog("ten-days", last_post_days_ago=10)

    run()
    assert state(blog) == LiveBlog.State.LIVE

    del settings.LIVEBLOG_AUTO_ARCHIVE_DAYS  # falls back to 7
    run()
    assert state(blog) == LiveBlog.State.ARCHIVED


def test_days_must_be_positive():
    with pytest.raises(CommandError, match="at least 1"):
        run("--days", "0")
