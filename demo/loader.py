"""`load()`: two German live blogs, three authors and an editor login, read from demo/content/.

All text is invented for this project (fictional state, parties and people). Everything readers see
is written through `posts.services`, exactly as the editors' desk would: blogs start as drafts,
go live, get their posts published in order, and the finished one is archived at the end.

Loading is idempotent: a blog whose slug exists is left as it is, and the user and authors are
reused when present. Running it twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone

from authors.models import Author
from images.processing import ProcessedImage, process_avatar, process_photo
from posts import services
from posts.models import LiveBlog, Post

from .pictures import avatar_png, chart_png
from .schema import DemoAuthor, DemoBlog, read_content

EDITOR_USERNAME = "redaktion"
EDITOR_PASSWORD = "liveblog-demo"  # noqa: S105 - a published demo login, printed by `make run`
EDITORS_GROUP = "Editors"
TIME_ZONE = "Europe/Berlin"


class DemoError(Exception):
    """The database is not ready for the demo (e.g. migrations missing)."""


@dataclass
class LoadResult:
    created: list[str] = field(default_factory=list)  # slugs of blogs created now
    existing: list[str] = field(default_factory=list)  # slugs left as they were
    posts: int = 0
    authors_created: int = 0
    user_created: bool = False


def blog_anchor(blog: DemoBlog, day: date, tz: ZoneInfo) -> datetime:
    """The moment a blog's post minutes count from: its anchor hour, `days_before` before `day`."""
    return datetime.combine(day - timedelta(days=blog.days_before), time(blog.anchor_hour), tzinfo=tz)


def demo_day(now: datetime, tz: ZoneInfo, blogs: Sequence[DemoBlog]) -> date:
    """The latest evening by which every blog's last post lies in the past.

    The demo then looks freshly finished whenever it is loaded, and never shows a post from the future.
    """
    day = now.astimezone(tz).date()
    while any(blog_anchor(blog, day, tz) + timedelta(minutes=blog.last_minutes) >= now for blog in blogs):
        day -= timedelta(days=1)
    return day


def _ensure_editor() -> tuple[User, bool]:
    try:
        editors = Group.objects.get(name=EDITORS_GROUP)
    except Group.DoesNotExist:
        raise DemoError(f'The group "{EDITORS_GROUP}" is missing; run `manage.py migrate` first.') from None
    user = User.objects.filter(username=EDITOR_USERNAME).first()
    if user is not None:
        return user, False  # someone's account: never touch its password or flags
    user = User.objects.create_user(
        EDITOR_USERNAME,
        email="redaktion@example.org",
        password=EDITOR_PASSWORD,
        first_name="Daniel",
        last_name="Okafor",
        is_staff=True,
    )
    user.groups.add(editors)
    return user, True


def _ensure_author(spec: DemoAuthor, user: User) -> tuple[Author, bool]:
    author, created = Author.objects.get_or_create(
        slug=spec.slug, defaults={"name": spec.name, "role": spec.role, "bio": spec.bio}
    )
    if spec.is_editor and author.user_id is None and not Author.objects.filter(user=user).exists():
        author.user = user
        author.save(update_fields=["user"])
    if not author.avatar:
        author.replace_avatar(process_avatar(avatar_png(spec.initials, spec.color)))
    return author, created


def _create_blog(
    spec: DemoBlog, authors: dict[str, Author], actor: User, anchor: datetime, chart: ProcessedImage | None
) -> LiveBlog:
    blog = LiveBlog.objects.create(
        slug=spec.slug,
        kicker=spec.kicker,
        title=spec.title,
        teaser=spec.teaser,
        language=spec.language,
        time_zone=TIME_ZONE,
        topic_title=spec.topic_title,
        topic_url=spec.topic_url,
        credit_line=spec.credit_line,
        # go_live() keeps an existing start, so coverage begins before the first post.
        coverage_started_at=anchor + timedelta(minutes=spec.first_minutes - 15),
    )
    blog = services.go_live(blog, actor=actor)
    for post_spec in sorted(spec.posts, key=lambda p: p.minutes):
        post = Post(
            live_blog=blog,
            headline=post_spec.headline,
            body=post_spec.body,
            is_important=post_spec.is_important,
            is_pinned=post_spec.is_pinned,
            source=post_spec.source,
            published_at=anchor + timedelta(minutes=post_spec.minutes),
        )
        image = None
        if post_spec.chart is not None:
            image = chart
            post.image_alt = post_spec.chart.alt
            post.image_caption = post_spec.chart.caption
            post.image_credit = post_spec.chart.credit
        services.publish_post(
            post, authors=[authors[slug] for slug in post_spec.authors], image=image, actor=actor
        )
    if spec.archive:
        blog = services.archive_blog(blog, actor=actor)
    return blog


def load(now: datetime | None = None, content_dir: Path | None = None) -> LoadResult:
    """Create whatever part of the demo is missing; leave existing blogs untouched.

    Raises schema.ContentError for bad content files before anything is written.
    """
    content = read_content(content_dir)
    now = now or timezone.now()
    tz = ZoneInfo(TIME_ZONE)
    # Dated from all blogs, not just the missing ones, so a recreated blog lands where it was.
    day = demo_day(now, tz, content.blogs)
    slugs = [b.slug for b in content.blogs]
    existing = set(LiveBlog.objects.filter(slug__in=slugs).values_list("slug", flat=True))
    result = LoadResult(existing=[slug for slug in slugs if slug in existing])
    missing = [b for b in content.blogs if b.slug not in existing]
    if not missing:
        return result
    with transaction.atomic():
        user, result.user_created = _ensure_editor()
        authors = {}
        for author_spec in content.authors:
            authors[author_spec.slug], created = _ensure_author(author_spec, user)
            result.authors_created += created
        needs_chart = any(p.chart for b in missing for p in b.posts)
        chart = process_photo(chart_png()) if needs_chart else None
        for spec in missing:
            _create_blog(spec, authors, user, blog_anchor(spec, day, tz), chart)
            result.created.append(spec.slug)
            result.posts += len(spec.posts)
    return result
