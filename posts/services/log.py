"""The preamble and the epilogue every service shares: lock the blog, record the event."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from django.db import transaction

from posts import broadcast
from posts.checks import check_blog_open, check_post_in_blog, check_post_not_deleted
from posts.models import Event, LiveBlog, Post

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def lock_blog(live_blog: LiveBlog, *, open_only: bool = True) -> LiveBlog:
    """The blog's row, locked until commit (so seq order is commit order); refused if archived."""
    blog = LiveBlog.objects.select_for_update().get(pk=live_blog.pk)
    if open_only:
        check_blog_open(blog)
    return blog


def lock_post(post: Post, *, deleted_ok: bool = False) -> tuple[LiveBlog, Post]:
    """The preamble of every change to an existing post: its open blog and its current row, locked."""
    blog = lock_blog(post.live_blog)
    current = Post.objects.select_for_update().get(pk=post.pk)
    check_post_in_blog(current, blog)
    if not deleted_ok:
        check_post_not_deleted(current)
    return blog, current


def record_event(blog: LiveBlog, kind: str, post: Post | None = None, actor: User | None = None) -> Event:
    """Append the blog's next event; the caller holds the blog's row lock."""
    blog.last_seq += 1
    LiveBlog.objects.filter(pk=blog.pk).update(last_seq=blog.last_seq)
    event = Event.objects.create(live_blog=blog, seq=blog.last_seq, kind=kind, post=post, actor=actor)
    transaction.on_commit(partial(broadcast.send_event, event.pk))
    return event
