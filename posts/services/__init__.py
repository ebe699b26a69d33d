"""Every change readers must see goes through one function here.

Each function locks the blog row, validates (an archived blog refuses everything), writes,
appends an Event with the blog's next sequence number, and registers the broadcast with
`transaction.on_commit`. Holding the blog's row lock until commit makes seq order equal commit
order, so a reader who applied event N has seen everything before it. Admin, composer, management
commands and tests call these; nothing broadcasts from save() or signals.
"""

from .blogs import archive_blog, go_live, reopen_blog
from .posts import (
    KEEP,
    RESTORE_WINDOW,
    BlogClosedError,
    EditConflictError,
    Keep,
    delete_post,
    publish_post,
    publish_posts,
    restore_post,
    set_important,
    set_pinned,
    update_post,
)

__all__ = [
    "KEEP",
    "RESTORE_WINDOW",
    "BlogClosedError",
    "EditConflictError",
    "Keep",
    "archive_blog",
    "delete_post",
    "go_live",
    "publish_post",
    "publish_posts",
    "reopen_blog",
    "restore_post",
    "set_important",
    "set_pinned",
    "update_post",
]
