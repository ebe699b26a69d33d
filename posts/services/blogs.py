"""Changes to a blog's state: go live, archive, reopen."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from posts.checks import check_blog_archivable
from posts.models import Event, LiveBlog

from .log import lock_blog, record_event

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@transaction.atomic
def go_live(live_blog: LiveBlog, *, actor: User | None = None) -> LiveBlog:
    """Open a draft blog to readers; coverage starts now (the first time)."""
    blog = lock_blog(live_blog)
    if blog.is_live:
        return blog
    blog.state = LiveBlog.State.LIVE
    blog.coverage_started_at = blog.coverage_started_at or timezone.now()
    blog.save(update_fields=["state", "coverage_started_at", "updated_at"])
    record_event(blog, Event.Kind.BLOG_LIVE, None, actor)
    return blog


@transaction.atomic
def archive_blog(live_blog: LiveBlog, *, actor: User | None = None) -> LiveBlog:
    """Freeze a live blog: read-only from now on, coverage ends now."""
    blog = lock_blog(live_blog)
    check_blog_archivable(blog)
    blog.state = LiveBlog.State.ARCHIVED
    blog.coverage_ended_at = timezone.now()
    blog.save(update_fields=["state", "coverage_ended_at", "updated_at"])
    record_event(blog, Event.Kind.BLOG_ARCHIVED, None, actor)
    return blog


@transaction.atomic
def reopen_blog(live_blog: LiveBlog, *, actor: User | None = None) -> LiveBlog:
    """Take an archived blog live again (needs posts.reopen_liveblog; callers check it)."""
    blog = lock_blog(live_blog, open_only=False)
    if not blog.is_archived:
        return blog
    blog.state = LiveBlog.State.LIVE
    blog.coverage_ended_at = None
    blog.save(update_fields=["state", "coverage_ended_at", "updated_at"])
    record_event(blog, Event.Kind.BLOG_REOPENED, None, actor)
    return blog
