"""Changes to posts: publish (one or many), edit, delete and restore, flag important or pinned."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Final

from django.db import transaction
from django.utils import timezone

from authors.models import Author
from images.processing import PHOTO_WIDTHS, ProcessedImage, delete_renditions
from posts import broadcast
from posts.checks import (
    RESTORE_WINDOW,
    BlogClosedError,
    EditConflictError,
    check_restorable,
    check_version,
)
from posts.models import Event, LiveBlog, Post, PostAuthor
from posts.sanitize import clean_html

from .log import lock_blog, lock_post, record_event

if TYPE_CHECKING:
    from django.contrib.auth.models import User

__all__ = ["RESTORE_WINDOW", "BlogClosedError", "EditConflictError"]

CONTENT_FIELDS = ("headline", "body", "image", "image_alt", "image_caption", "image_credit", "source")


class Keep(enum.Enum):
    """The type of KEEP, a sentinel (an enum, so that type checkers can narrow `image is not KEEP`)."""

    KEEP = "keep"


KEEP: Final = Keep.KEEP  # "leave the image as it is" for update_post


def _set_authors(post: Post, authors: Sequence[Author], *, replace: bool = True) -> None:
    if replace:  # a post just inserted has no bylines to replace
        post.post_authors.all().delete()
    PostAuthor.objects.bulk_create(
        PostAuthor(post=post, author=author, position=index)
        for index, author in enumerate(dict.fromkeys(authors))
    )


def _unpin_others(blog: LiveBlog, keep: Post | None, actor: User | None) -> None:
    """Unpin the blog's pinned post (if another), recording the change readers must apply."""
    pinned = Post.objects.select_for_update().filter(live_blog=blog, is_pinned=True, deleted_at__isnull=True)
    if keep is not None and keep.pk:
        pinned = pinned.exclude(pk=keep.pk)
    for other in pinned:
        other.is_pinned = False
        other.version += 1
        other.save(update_fields=["is_pinned", "version", "updated_at"])
        record_event(blog, Event.Kind.PINNED_CHANGED, other, actor)


def _validate(post: Post) -> None:
    post.full_clean(exclude=["live_blog", "created_by"], validate_constraints=False)


def _prepare_new(post: Post, blog: LiveBlog, actor: User | None) -> None:
    """A new post of `blog`, its body sanitized and validated, credited to `actor` if unset."""
    post.live_blog = blog
    post.body = clean_html(post.body)
    _validate(post)
    if post.created_by_id is None and getattr(actor, "pk", None):
        post.created_by = actor


@transaction.atomic
def publish_post(
    post: Post,
    *,
    authors: Sequence[Author] = (),
    image: ProcessedImage | None = None,
    actor: User | None = None,
) -> Post:
    """Publish a new (unsaved) post. Call inside or outside a transaction; broadcasts on commit."""
    if post.pk:
        raise ValueError("publish_post() takes a new post; use update_post() to change one.")
    blog = lock_blog(post.live_blog)
    if image is not None:
        post.image.name = image.save("posts")
        post.image_width, post.image_height = image.width, image.height
    _prepare_new(post, blog, actor)
    if post.is_pinned:
        _unpin_others(blog, None, actor)
    post.save()
    _set_authors(post, authors, replace=False)
    record_event(blog, Event.Kind.POST_CREATED, post, actor)
    return post


@transaction.atomic
def publish_posts(
    live_blog: LiveBlog, posts: Sequence[Post], *, authors: Sequence[Author] = (), actor: User | None = None
) -> list[Post]:
    """Publish several new posts at once, in the given order: one lock, one event each.

    For feeds that deliver many items together (constituency results when the polls close, a batch
    of agency items): a few statements instead of a transaction per post, so readers get them as
    one burst. All or nothing: if one post is invalid, none is published. Pinned posts and images
    go through publish_post().
    """
    posts = list(posts)
    if not posts:
        return []
    blog = lock_blog(live_blog)
    for post in posts:
        if post.pk or post.is_pinned or post.image:
            raise ValueError("publish_posts() takes new unpinned posts without image; see publish_post().")
        _prepare_new(post, blog, actor)
    Post.objects.bulk_create(posts)
    bylines = list(dict.fromkeys(authors))
    PostAuthor.objects.bulk_create(
        PostAuthor(post=post, author=author, position=index)
        for post in posts
        for index, author in enumerate(bylines)
    )
    events = Event.objects.bulk_create(
        Event(live_blog=blog, seq=blog.last_seq + n, kind=Event.Kind.POST_CREATED, post=post, actor=actor)
        for n, post in enumerate(posts, start=1)
    )
    blog.last_seq += len(posts)
    LiveBlog.objects.filter(pk=blog.pk).update(last_seq=blog.last_seq)
    transaction.on_commit(partial(broadcast.send_events, [event.pk for event in events]))
    return posts


@transaction.atomic
def update_post(
    post: Post,
    *,
    authors: Sequence[Author] | None = None,
    image: ProcessedImage | Keep | None = KEEP,
    expected_version: int | None = None,
    actor: User | None = None,
) -> Post:
    """Save an edited post (its fields changed in memory).

    `image`: KEEP leaves it, None removes it, a ProcessedImage replaces it. `expected_version` is
    the version the editor started from; if someone saved in between, EditConflictError is raised
    and nothing is written.
    """
    blog, current = lock_post(post)
    check_version(current, expected_version)
    post.body = clean_html(post.body)
    old_image = current.image.name
    if image is not KEEP:
        if image is None:
            post.image.name = ""
            post.image_width = post.image_height = None
        else:
            post.image.name = image.save("posts")
            post.image_width, post.image_height = image.width, image.height
    _validate(post)

    content_changed = any(getattr(post, f) != getattr(current, f) for f in CONTENT_FIELDS)
    if authors is not None:
        content_changed |= [a.pk for a in authors] != list(
            current.post_authors.values_list("author_id", flat=True)
        )
    pinned_changed = post.is_pinned != current.is_pinned
    important_changed = post.is_important != current.is_important

    if post.is_pinned and pinned_changed:
        _unpin_others(blog, post, actor)
    if content_changed:
        post.edited_at = timezone.now()
    post.live_blog = blog
    post.version = current.version + 1
    post.deleted_at = current.deleted_at
    post.save()
    if authors is not None:
        _set_authors(post, authors)

    if content_changed or not (pinned_changed or important_changed):
        kind = Event.Kind.POST_UPDATED
    elif pinned_changed:
        kind = Event.Kind.PINNED_CHANGED
    else:
        kind = Event.Kind.IMPORTANT_CHANGED
    record_event(blog, kind, post, actor)
    if old_image and old_image != post.image.name:
        transaction.on_commit(partial(delete_renditions, old_image, PHOTO_WIDTHS))
    return post


@transaction.atomic
def delete_post(post: Post, *, actor: User | None = None) -> Post:
    """Soft-delete: readers get a removal; the row stays for the record."""
    blog, current = lock_post(post, deleted_ok=True)
    if current.is_deleted:
        return current
    current.deleted_at = timezone.now()
    current.is_pinned = False
    current.version += 1
    current.save(update_fields=["deleted_at", "is_pinned", "version", "updated_at"])
    record_event(blog, Event.Kind.POST_DELETED, current, actor)
    post.deleted_at, post.is_pinned, post.version = current.deleted_at, False, current.version
    return current


@transaction.atomic
def restore_post(post: Post, *, actor: User | None = None) -> Post:
    """Undo a delete made moments ago: readers get the post back where it was.

    Allowed only within RESTORE_WINDOW of the delete and only on a blog that is not archived. The
    post comes back unpinned (deleting unpinned it; another post may be pinned since).

    Recorded as `post.updated`, not `post.created`: the event carries the post's current markup
    (posts/broadcast.py renders the post's state at send time), and the reader client inserts a
    post it does not have (static/js/live/stream.js), in its published_at position. It is not a new
    post (its published time is old, its pk is known), so readers and the event log see an update of a
    post that was removed and is visible again; replaying the log (delete, then update) ends with
    the post shown.
    """
    blog, current = lock_post(post, deleted_ok=True)
    if not current.is_deleted:
        return current
    check_restorable(current, timezone.now())
    current.deleted_at = None
    current.version += 1
    current.save(update_fields=["deleted_at", "version", "updated_at"])
    record_event(blog, Event.Kind.POST_UPDATED, current, actor)
    post.deleted_at, post.is_pinned, post.version = None, current.is_pinned, current.version
    return current


@transaction.atomic
def set_important(post: Post, important: bool, *, actor: User | None = None) -> Post:
    """Flag or unflag a post as important (its headline joins the "Important updates" list)."""
    return _set_flag(post, "is_important", important, Event.Kind.IMPORTANT_CHANGED, actor)


@transaction.atomic
def set_pinned(post: Post, pinned: bool, *, actor: User | None = None) -> Post:
    """Pin a post to the top (unpinning any other) or unpin it."""
    return _set_flag(post, "is_pinned", pinned, Event.Kind.PINNED_CHANGED, actor)


def _set_flag(post: Post, field: str, value: bool, kind: str, actor: User | None) -> Post:
    blog, current = lock_post(post)
    if getattr(current, field) == value:
        return current
    if field == "is_pinned" and value:
        _unpin_others(blog, current, actor)
    setattr(current, field, value)
    current.version += 1
    current.save(update_fields=[field, "version", "updated_at"])
    record_event(blog, kind, current, actor)
    setattr(post, field, value)
    post.version = current.version
    return current
