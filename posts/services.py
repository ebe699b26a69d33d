"""Every change readers must see goes through one function here.

Each function locks the blog row, validates (an archived blog refuses everything), writes,
appends an Event with the blog's next sequence number, and registers the broadcast with
`transaction.on_commit`. Holding the blog's row lock until commit makes seq order equal commit
order, so a reader who applied event N has seen everything before it. Admin, composer, management
commands and tests call these; nothing broadcasts from save() or signals.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import partial

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from authors.models import Author
from images.processing import PHOTO_WIDTHS, ProcessedImage, delete_renditions

from . import broadcast
from .models import Event, LiveBlog, Post, PostAuthor
from .sanitize import clean_html

# Fields whose change makes a post "edited" for readers (flags alone do not).
CONTENT_FIELDS = ("headline", "body", "image", "image_alt", "image_caption", "image_credit", "source")
KEEP = object()  # "leave the image as it is" for update_post
# How long after a delete restore_post() may still bring the post back (the desk offers "Undo"
# for a shorter time; the margin covers slow clicks and the no-JavaScript path).
RESTORE_WINDOW = timedelta(minutes=5)


class BlogClosedError(ValidationError):
    """The blog is archived (or otherwise not open for this change); nothing was written."""


class EditConflictError(ValidationError):
    """Someone saved the post after the editor opened it; nothing was written."""

    def __init__(self, message, current: Post):
        super().__init__(message, code="conflict")
        self.current = current


def _lock_blog(live_blog: LiveBlog) -> LiveBlog:
    return LiveBlog.objects.select_for_update().get(pk=live_blog.pk)


def _ensure_open(blog: LiveBlog) -> None:
    if blog.is_archived:
        raise BlogClosedError(
            _("“%(title)s” is archived and can no longer be changed.") % {"title": blog.title},
            code="archived",
        )


def _record_event(blog: LiveBlog, kind: str, post: Post | None = None, actor=None) -> Event:
    """Append the blog's next event; the caller holds the blog's row lock."""
    blog.last_seq += 1
    LiveBlog.objects.filter(pk=blog.pk).update(last_seq=blog.last_seq)
    event = Event.objects.create(live_blog=blog, seq=blog.last_seq, kind=kind, post=post, actor=actor)
    transaction.on_commit(partial(broadcast.send_event, event.pk))
    return event


def _set_authors(post: Post, authors: Sequence[Author], *, replace: bool = True) -> None:
    if replace:  # a post just inserted has no bylines to replace
        post.post_authors.all().delete()
    PostAuthor.objects.bulk_create(
        PostAuthor(post=post, author=author, position=index)
        for index, author in enumerate(dict.fromkeys(authors))
    )


def _unpin_others(blog: LiveBlog, keep: Post | None, actor) -> None:
    """Unpin the blog's pinned post (if another), recording the change readers must apply."""
    pinned = Post.objects.select_for_update().filter(live_blog=blog, is_pinned=True, deleted_at__isnull=True)
    if keep is not None and keep.pk:
        pinned = pinned.exclude(pk=keep.pk)
    for other in pinned:
        other.is_pinned = False
        other.version += 1
        other.save(update_fields=["is_pinned", "version", "updated_at"])
        _record_event(blog, Event.Kind.PINNED_CHANGED, other, actor)


def _validate(post: Post) -> None:
    post.full_clean(exclude=["live_blog", "created_by"], validate_constraints=False)


def _prepare_new(post: Post, blog: LiveBlog, actor) -> None:
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
    actor=None,
) -> Post:
    """Publish a new (unsaved) post. Call inside or outside a transaction; broadcasts on commit."""
    if post.pk:
        raise ValueError("publish_post() takes a new post; use update_post() to change one.")
    blog = _lock_blog(post.live_blog)
    _ensure_open(blog)
    if image is not None:
        post.image.name = image.save("posts")
        post.image_width, post.image_height = image.width, image.height
    _prepare_new(post, blog, actor)
    if post.is_pinned:
        _unpin_others(blog, None, actor)
    post.save()
    _set_authors(post, authors, replace=False)
    _record_event(blog, Event.Kind.POST_CREATED, post, actor)
    return post


@transaction.atomic
def publish_posts(
    live_blog: LiveBlog, posts: Sequence[Post], *, authors: Sequence[Author] = (), actor=None
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
    blog = _lock_blog(live_blog)
    _ensure_open(blog)
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
    image: ProcessedImage | object | None = KEEP,
    expected_version: int | None = None,
    actor=None,
) -> Post:
    """Save an edited post (its fields changed in memory).

    `image`: KEEP leaves it, None removes it, a ProcessedImage replaces it. `expected_version` is
    the version the editor started from; if someone saved in between, EditConflictError is raised
    and nothing is written.
    """
    blog = _lock_blog(post.live_blog)
    _ensure_open(blog)
    current = Post.objects.select_for_update().get(pk=post.pk)
    if current.live_blog_id != blog.pk:
        raise ValidationError(_("This post belongs to another live blog."), code="wrong_blog")
    if current.is_deleted:
        raise ValidationError(_("This post was deleted and can no longer be changed."), code="deleted")
    if expected_version is not None and current.version != expected_version:
        raise EditConflictError(
            _(
                "Someone else saved this post while you were editing it. Compare both versions "
                "and save again."
            ),
            current=current,
        )
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
    _record_event(blog, kind, post, actor)
    if old_image and old_image != post.image.name:
        transaction.on_commit(partial(delete_renditions, old_image, PHOTO_WIDTHS))
    return post


@transaction.atomic
def delete_post(post: Post, *, actor=None) -> Post:
    """Soft-delete: readers get a removal; the row stays for the record."""
    blog = _lock_blog(post.live_blog)
    _ensure_open(blog)
    current = Post.objects.select_for_update().get(pk=post.pk)
    if current.live_blog_id != blog.pk:
        raise ValidationError(_("This post belongs to another live blog."), code="wrong_blog")
    if current.is_deleted:
        return current
    current.deleted_at = timezone.now()
    current.is_pinned = False
    current.version += 1
    current.save(update_fields=["deleted_at", "is_pinned", "version", "updated_at"])
    _record_event(blog, Event.Kind.POST_DELETED, current, actor)
    post.deleted_at, post.is_pinned, post.version = current.deleted_at, False, current.version
    return current


@transaction.atomic
def restore_post(post: Post, *, actor=None) -> Post:
    """Undo a delete made moments ago: readers get the post back where it was.

    Allowed only within RESTORE_WINDOW of the delete and only on a blog that is not archived. The
    post comes back unpinned (deleting unpinned it; another post may be pinned since).

    Recorded as `post.updated`, not `post.created`: the event carries the post's current markup
    (posts/broadcast.py renders the post's state at send time), and the reader client inserts a
    post it does not have (live.js `place()`), in its published_at position. It is not a new post
    (its published time is old, its pk is known), so readers and the event log see an update of a
    post that was removed and is visible again; replaying the log (delete, then update) ends with
    the post shown.
    """
    blog = _lock_blog(post.live_blog)
    _ensure_open(blog)
    current = Post.objects.select_for_update().get(pk=post.pk)
    if current.live_blog_id != blog.pk:
        raise ValidationError(_("This post belongs to another live blog."), code="wrong_blog")
    if not current.is_deleted:
        return current
    if timezone.now() - current.deleted_at > RESTORE_WINDOW:
        raise ValidationError(
            _(
                "“%(headline)s” was deleted more than %(minutes)d minutes ago and can no longer be "
                "restored. Publish it again instead."
            )
            % {"headline": current.headline, "minutes": int(RESTORE_WINDOW.total_seconds() // 60)},
            code="restore_expired",
        )
    current.deleted_at = None
    current.version += 1
    current.save(update_fields=["deleted_at", "version", "updated_at"])
    _record_event(blog, Event.Kind.POST_UPDATED, current, actor)
    post.deleted_at, post.is_pinned, post.version = None, current.is_pinned, current.version
    return current


@transaction.atomic
def set_important(post: Post, important: bool, *, actor=None) -> Post:
    """Flag or unflag a post as important (its headline joins the "Important updates" list)."""
    return _set_flag(post, "is_important", important, Event.Kind.IMPORTANT_CHANGED, actor)


@transaction.atomic
def set_pinned(post: Post, pinned: bool, *, actor=None) -> Post:
    """Pin a post to the top (unpinning any other) or unpin it."""
    return _set_flag(post, "is_pinned", pinned, Event.Kind.PINNED_CHANGED, actor)


def _set_flag(post: Post, field: str, value: bool, kind: str, actor) -> Post:
    blog = _lock_blog(post.live_blog)
    _ensure_open(blog)
    current = Post.objects.select_for_update().get(pk=post.pk)
    if current.live_blog_id != blog.pk:
        raise ValidationError(_("This post belongs to another live blog."), code="wrong_blog")
    if current.is_deleted:
        raise ValidationError(_("This post was deleted and can no longer be changed."), code="deleted")
    if getattr(current, field) == value:
        return current
    if field == "is_pinned" and value:
        _unpin_others(blog, current, actor)
    setattr(current, field, value)
    current.version += 1
    current.save(update_fields=[field, "version", "updated_at"])
    _record_event(blog, kind, current, actor)
    setattr(post, field, value)
    post.version = current.version
    return current


@transaction.atomic
def go_live(live_blog: LiveBlog, *, actor=None) -> LiveBlog:
    """Open a draft blog to readers; coverage starts now (the first time)."""
    blog = _lock_blog(live_blog)
    _ensure_open(blog)
    if blog.is_live:
        return blog
    blog.state = LiveBlog.State.LIVE
    blog.coverage_started_at = blog.coverage_started_at or timezone.now()
    blog.save(update_fields=["state", "coverage_started_at", "updated_at"])
    _record_event(blog, Event.Kind.BLOG_LIVE, None, actor)
    return blog


@transaction.atomic
def archive_blog(live_blog: LiveBlog, *, actor=None) -> LiveBlog:
    """Freeze a live blog: read-only from now on, coverage ends now."""
    blog = _lock_blog(live_blog)
    _ensure_open(blog)
    if blog.is_draft:
        raise BlogClosedError(
            _("“%(title)s” was never live; delete the draft instead of archiving it.")
            % {"title": blog.title},
            code="draft",
        )
    blog.state = LiveBlog.State.ARCHIVED
    blog.coverage_ended_at = timezone.now()
    blog.save(update_fields=["state", "coverage_ended_at", "updated_at"])
    _record_event(blog, Event.Kind.BLOG_ARCHIVED, None, actor)
    return blog


@transaction.atomic
def reopen_blog(live_blog: LiveBlog, *, actor=None) -> LiveBlog:
    """Take an archived blog live again (needs posts.reopen_liveblog; callers check it)."""
    blog = _lock_blog(live_blog)
    if not blog.is_archived:
        return blog
    blog.state = LiveBlog.State.LIVE
    blog.coverage_ended_at = None
    blog.save(update_fields=["state", "coverage_ended_at", "updated_at"])
    _record_event(blog, Event.Kind.BLOG_REOPENED, None, actor)
    return blog
