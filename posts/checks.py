"""Each rule a change must pass, checked in one place.

The forms call these for early feedback next to the field; the services (posts/services.py) call
them again under the blog's row lock, where they are authoritative: between the form's check and
the write another editor may have saved or archived. A refusal is a ValidationError, which the
admin and the composer show on the re-shown form (never a 500).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.utils.formats import date_format
from django.utils.html import strip_tags
from django.utils.text import Truncator
from django.utils.translation import gettext as _

if TYPE_CHECKING:  # models.py calls these checks too: no import at run time
    from .models import LiveBlog, Post

# How long after a delete restore_post() may still bring the post back (the desk offers "Undo"
# for a shorter time; the margin covers slow clicks and the no-JavaScript path).
RESTORE_WINDOW = timedelta(minutes=5)


class BlogClosedError(ValidationError):
    """The blog is archived (or otherwise not open for this change); nothing was written."""


class EditConflictError(ValidationError):
    """Someone saved the post after the editor opened it; nothing was written."""

    def __init__(self, message: str, current: Post) -> None:
        super().__init__(message, code="conflict")
        self.current = current


def check_blog_open(blog: LiveBlog) -> None:
    """An archived blog is frozen: every change is refused."""
    if blog.is_archived:
        raise BlogClosedError(
            _("“%(title)s” is archived and can no longer be changed.") % {"title": blog.title},
            code="archived",
        )


def check_blog_archivable(blog: LiveBlog) -> None:
    if blog.is_draft:
        raise BlogClosedError(
            _("“%(title)s” was never live; delete the draft instead of archiving it.")
            % {"title": blog.title},
            code="draft",
        )


def check_post_in_blog(post: Post, blog: LiveBlog) -> None:
    """A post stays in its blog: its events belong to that blog's log, whose readers would be misled."""
    if post.live_blog_id != blog.pk:
        raise ValidationError(
            _("This post belongs to another live blog and cannot be moved."), code="wrong_blog"
        )


def check_post_not_deleted(post: Post) -> None:
    if post.is_deleted:
        raise ValidationError(_("This post was deleted and can no longer be changed."), code="deleted")


def check_version(current: Post, expected_version: int | None) -> None:
    """The editor's save names the version they started from; a newer one means someone else saved.

    The message shows their version, so the editor can compare before saving again.
    """
    if expected_version is None or current.version == expected_version:
        return
    message = _(
        "Someone else saved this post at %(time)s while you were editing. Their version: "
        "“%(headline)s” – %(text)s. Your text is kept below; save again to replace theirs."
    ) % {
        "time": date_format(current.updated_at, "TIME_FORMAT"),
        "headline": current.headline,
        "text": Truncator(strip_tags(current.body)).words(40),
    }
    raise EditConflictError(message, current=current)


def check_image_alt(has_image: bool, alt_text: str) -> None:
    """An image needs a description for readers who cannot see it."""
    if has_image and not alt_text.strip():
        raise ValidationError(
            {"image_alt": _("Describe the image for readers who cannot see it.")}, code="alt_required"
        )


def check_restorable(post: Post, now: datetime) -> None:
    """A deleted post comes back only within RESTORE_WINDOW of its deletion."""
    if post.deleted_at is not None and now - post.deleted_at > RESTORE_WINDOW:
        raise ValidationError(
            _(
                "“%(headline)s” was deleted more than %(minutes)d minutes ago and can no longer be "
                "restored. Publish it again instead."
            )
            % {"headline": post.headline, "minutes": int(RESTORE_WINDOW.total_seconds() // 60)},
            code="restore_expired",
        )
