"""Reading a blog in pieces: query parameters, and keyset pages of posts.

Shared by the reader pages ("Load older posts"), the catch-up endpoint (live/views.py) and the JSON
API (api/views.py), so that `?after=` means the same everywhere and paging exists once.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Model, Q, QuerySet

from .models import Post

# PositiveIntegerField's range: larger numbers would overflow the query.
SEQ_MAX = 2**31 - 1
AFTER_ERROR = "after must be a non-negative integer: the last event seq the client applied."

NEWEST, OLDEST = "newest", "oldest"


class BadParameter(ValueError):
    """A query parameter that cannot be used; the message is for the client."""


def parse_int(value: str | None, *, default: int, low: int, high: int, message: str) -> int:
    """A decimal integer parameter within [low, high]; `default` when absent.

    isdecimal() refuses "-1", "1.5", " 3" and "+3", which int() would accept; the length check keeps
    int() away from huge digit strings (which it refuses past 4300 digits with a ValueError).
    """
    if value is None:
        return default
    valid = value.isascii() and value.isdecimal() and len(value) <= len(str(high))
    if not valid or not low <= int(value) <= high:
        raise BadParameter(message)
    return int(value)


def parse_after(value: str | None) -> int:
    """`?after=<seq>`: the last event seq the client applied (0, everything, when absent)."""
    return parse_int(value, default=0, low=0, high=SEQ_MAX, message=AFTER_ERROR)


def posts_after(
    posts: QuerySet[Post], published_at: datetime, pk: int, order: str = NEWEST
) -> QuerySet[Post]:
    """Posts after the one at (published_at, pk) in reading order.

    A keyset cursor: posts published meanwhile sort before it (newest first) and cannot shift the
    pages still to come, as an offset would.
    """
    if order == OLDEST:
        return posts.filter(Q(published_at__gt=published_at) | Q(published_at=published_at, pk__gt=pk))
    return posts.filter(Q(published_at__lt=published_at) | Q(published_at=published_at, pk__lt=pk))


def take_page[T: Model](items: QuerySet[T], limit: int) -> tuple[list[T], T | None]:
    """The first `limit` items, and the one to continue after (None at the end)."""
    page = list(items[: limit + 1])
    return page[:limit], (page[limit - 1] if len(page) > limit else None)
