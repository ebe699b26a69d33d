"""`manage.py archive_idle_blogs [--days N] [--dry-run]`: archive live blogs nobody posts to any more.

Meant for cron. A blog is idle when its newest visible post (or, with none, the start of coverage,
or else its creation) is older than N days. Archiving goes through services.archive_blog, so readers
get the archive notice live, as when an editor archives.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypedDict

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from posts import services
from posts.models import LiveBlog

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

DEFAULT_DAYS = 7


class LastActivity(TypedDict):
    last_activity: datetime


def with_last_activity(blogs: QuerySet[LiveBlog]) -> QuerySet[WithAnnotations[LiveBlog, LastActivity]]:
    return blogs.annotate(
        last_activity=Coalesce(
            Max("posts__published_at", filter=Q(posts__deleted_at__isnull=True)),
            "coverage_started_at",
            "created_at",
        )
    )


def idle_blogs(cutoff: datetime) -> QuerySet[WithAnnotations[LiveBlog, LastActivity]]:
    """Live blogs whose last activity is before `cutoff`, longest idle first."""
    live = LiveBlog.objects.filter(state=LiveBlog.State.LIVE)
    return with_last_activity(live).filter(last_activity__lt=cutoff).order_by("last_activity", "pk")


def archive_if_idle(blog: LiveBlog, cutoff: datetime) -> bool:
    """Archive `blog` if it is still live and idle, checked again under its row lock.

    Services publish under the same lock, so a post that arrived since the scan keeps the blog live.
    """
    with transaction.atomic():
        locked = LiveBlog.objects.select_for_update().filter(pk=blog.pk)
        if not idle_blogs(cutoff).filter(pk__in=locked.values("pk")).exists():
            return False
        services.archive_blog(blog)
        return True


class Command(BaseCommand):
    help = "Archive live blogs whose newest visible post is older than --days (one line per blog)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="idle for more than this many days (default: LIVEBLOG_AUTO_ARCHIVE_DAYS, else 7)",
        )
        parser.add_argument("--dry-run", action="store_true", help="list the blogs, change nothing")

    def handle(self, *args: Any, days: int | None, dry_run: bool, **options: Any) -> None:
        if days is None:
            days = getattr(settings, "LIVEBLOG_AUTO_ARCHIVE_DAYS", DEFAULT_DAYS)
        if not isinstance(days, int) or days < 1:
            raise CommandError(f"--days must be a whole number of at least 1 (got {days!r}).")
        now = timezone.now()
        cutoff = now - timedelta(days=days)
        blogs = list(idle_blogs(cutoff))
        for blog in blogs:
            since = timezone.localtime(blog.last_activity, blog.tzinfo).strftime("%Y-%m-%d %H:%M %Z")
            idle_days = (now - blog.last_activity).days
            line = f"{blog.slug} “{blog.title}”: last activity {since} ({idle_days} days ago)"
            if dry_run:
                self.stdout.write(f"would archive {line}")
            elif archive_if_idle(blog, cutoff):
                self.stdout.write(self.style.SUCCESS(f"archived {line}"))
            else:
                self.stdout.write(f"skipped {blog.slug}: changed since the scan, left as it is")
        if not blogs:
            self.stdout.write(f"No live blog has been idle for {days} days.")
