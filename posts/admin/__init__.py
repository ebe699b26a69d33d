"""The editors' desk in the Django admin.

Every change readers see goes through posts/services.py: save_model, delete_model, bulk actions
and the composer call services, never Model.save() on their own.
"""

from .event import EventAdmin
from .liveblog import LiveBlogAdmin
from .post import PostAdmin

__all__ = ["EventAdmin", "LiveBlogAdmin", "PostAdmin"]
