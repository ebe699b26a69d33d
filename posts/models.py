import zoneinfo
from typing import Self

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django_prose_editor.fields import ProseEditorField

from images.processing import photo_widths, rendition_of

from .checks import check_image_alt
from .sanitize import clean_html


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("%(value)s is not a known time zone."), params={"value": value})


class LiveBlogQuerySet(models.QuerySet["LiveBlog"]):
    def public(self) -> Self:
        """Blogs readers may see: live and archived, never drafts."""
        return self.exclude(state=LiveBlog.State.DRAFT)


class LiveBlog(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", _("draft")
        LIVE = "live", _("live")
        ARCHIVED = "archived", _("archived")

    class Language(models.TextChoices):
        GERMAN = "de", _("German")
        ENGLISH = "en", _("English")

    slug = models.SlugField(_("slug"), max_length=120, unique=True)
    kicker = models.CharField(_("kicker"), max_length=120, blank=True)
    title = models.CharField(_("headline"), max_length=250)
    teaser = models.TextField(_("teaser"), blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State, default=State.DRAFT, editable=False)
    language = models.CharField(_("language"), max_length=2, choices=Language, default=Language.GERMAN)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Europe/Berlin", validators=[validate_time_zone]
    )
    topic_title = models.CharField(
        _("topic page title"),
        max_length=200,
        blank=True,
        help_text=_("Where current coverage lives once this blog is archived."),
    )
    topic_url = models.URLField(_("topic page URL"), blank=True)
    successor = models.ForeignKey(
        "self",
        verbose_name=_("successor"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="predecessors",
        help_text=_("The live blog that continues this one."),
    )
    credit_line = models.CharField(
        _("credit line"), max_length=200, blank=True, help_text=_("e.g. © dpa/rtr/epd")
    )
    coverage_started_at = models.DateTimeField(_("coverage started"), null=True, blank=True, editable=False)
    coverage_ended_at = models.DateTimeField(_("coverage ended"), null=True, blank=True, editable=False)
    # The seq of the newest Event; bumped under a row lock by record_event().
    last_seq = models.PositiveIntegerField(_("last event number"), default=0, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = LiveBlogQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("live blog")
        verbose_name_plural = _("live blogs")
        permissions = [
            ("go_live_liveblog", _("Can take a live blog live")),
            ("archive_liveblog", _("Can archive a live blog")),
            ("reopen_liveblog", _("Can reopen an archived live blog")),
        ]

    def __str__(self) -> str:
        return self.title

    # Written only by posts/services.py, under the blog's row lock, with explicit update_fields.
    SERVICE_FIELDS = frozenset({"state", "last_seq", "coverage_started_at", "coverage_ended_at"})

    def save(self, *args, **kwargs) -> None:
        # An ordinary save (the admin's change form, a script) must not write back a stale copy
        # of the event counter or the state, which would reuse seq numbers or undo an archive.
        if not self._state.adding and kwargs.get("update_fields") is None and not kwargs.get("force_insert"):
            kwargs["update_fields"] = [
                f.name
                for f in self._meta.concrete_fields
                if not f.primary_key and f.name not in self.SERVICE_FIELDS
            ]
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("liveblog-detail", kwargs={"slug": self.slug})

    @property
    def is_draft(self) -> bool:
        return self.state == self.State.DRAFT

    @property
    def is_live(self) -> bool:
        return self.state == self.State.LIVE

    @property
    def is_archived(self) -> bool:
        return self.state == self.State.ARCHIVED

    @cached_property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    @property
    def group_name(self) -> str:
        """Channel-layer group of this blog's readers."""
        return f"live-blog-{self.pk}"

    def clean(self) -> None:
        if self.successor_id and self.successor_id == self.pk:
            raise ValidationError({"successor": _("A live blog cannot continue itself.")})


def bylines(through: str = "") -> models.Prefetch:
    """A post's authors in byline order, in one query (the links joined to their authors).

    `through` is the path to the post, e.g. "post__" from an Event.
    """
    return models.Prefetch(f"{through}post_authors", queryset=PostAuthor.objects.select_related("author"))


class PostQuerySet(models.QuerySet["Post"]):
    def visible(self) -> Self:
        return self.filter(deleted_at__isnull=True)

    def public(self) -> Self:
        """Posts readers may see anywhere: not deleted, in a live or archived blog."""
        return self.visible().exclude(live_blog__state=LiveBlog.State.DRAFT)

    def for_display(self) -> Self:
        return self.prefetch_related(bylines()).order_by("-published_at", "-pk")


class Post(models.Model):
    live_blog = models.ForeignKey(
        LiveBlog, verbose_name=_("live blog"), on_delete=models.CASCADE, related_name="posts"
    )
    headline = models.CharField(_("headline"), max_length=300)
    body = ProseEditorField(
        _("text"),
        blank=True,
        config={"extensions": settings.PROSE_EDITOR_EXTENSIONS},
        sanitize=clean_html,
    )
    authors = models.ManyToManyField(
        "authors.Author", verbose_name=_("authors"), through="PostAuthor", related_name="posts", blank=True
    )
    is_important = models.BooleanField(_("important"), default=False)
    is_pinned = models.BooleanField(_("pinned"), default=False)
    # The largest rendition; smaller ones for srcset are stored beside it (see image_srcset).
    image = models.ImageField(_("image"), upload_to="posts/", blank=True, editable=False)
    image_width = models.PositiveIntegerField(null=True, blank=True, editable=False)
    image_height = models.PositiveIntegerField(null=True, blank=True, editable=False)
    image_alt = models.CharField(
        _("image description (alt text)"),
        max_length=300,
        blank=True,
        help_text=_("What the image shows, for readers who cannot see it. Required with an image."),
    )
    image_caption = models.CharField(_("image caption"), max_length=300, blank=True)
    image_credit = models.CharField(_("image credit"), max_length=200, blank=True)
    source = models.CharField(_("source"), max_length=100, blank=True, help_text=_('e.g. "dpa"'))
    published_at = models.DateTimeField(_("published"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    edited_at = models.DateTimeField(_("edited"), null=True, blank=True, editable=False)
    deleted_at = models.DateTimeField(_("deleted"), null=True, blank=True, editable=False)
    # Bumped on every change; an editor's save names the version they edited (optimistic locking).
    version = models.PositiveIntegerField(default=1, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )

    objects = PostQuerySet.as_manager()

    class Meta:
        ordering = ["-published_at", "-pk"]
        verbose_name = _("post")
        verbose_name_plural = _("posts")
        constraints = [
            models.UniqueConstraint(
                fields=["live_blog"],
                condition=Q(is_pinned=True, deleted_at__isnull=True),
                name="one_pinned_post_per_blog",
                violation_error_message=_("A live blog can have only one pinned post."),
            ),
            models.CheckConstraint(
                condition=Q(image="") | ~Q(image_alt=""),
                name="image_requires_alt_text",
                violation_error_message=_("An image needs a description (alt text)."),
            ),
        ]
        indexes = [models.Index(fields=["live_blog", "-published_at"], name="post_blog_published_idx")]

    def __str__(self) -> str:
        return self.headline

    def get_absolute_url(self) -> str:
        return reverse("post-detail", kwargs={"slug": self.live_blog.slug, "pk": self.pk})

    def clean(self) -> None:
        check_image_alt(bool(self.image), self.image_alt)

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def ordered_authors(self) -> list:
        return [pa.author for pa in self.post_authors.all()]

    def image_url(self, width: int) -> str:
        name = self.image.name
        assert name is not None  # a FieldFile read from a row has a str name ("" without a file)
        return self.image.storage.url(rendition_of(name, width))

    @property
    def image_renditions(self) -> list[tuple[str, int]]:
        """(url, width) of each stored rendition of the image, narrowest first; [] without one."""
        if not self.image:
            return []
        return [(self.image_url(w), w) for w in photo_widths(self.image_width)]

    @property
    def image_srcset(self) -> str:
        return ", ".join(f"{url} {width}w" for url, width in self.image_renditions)


class PostAuthor(models.Model):
    """An author of a post, in the order the byline names them."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="post_authors")
    author = models.ForeignKey("authors.Author", on_delete=models.PROTECT, related_name="post_authorships")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]
        constraints = [models.UniqueConstraint(fields=["post", "author"], name="author_once_per_post")]
        verbose_name = _("post author")
        verbose_name_plural = _("post authors")

    def __str__(self) -> str:
        return str(self.author)


class Event(models.Model):
    """One entry in a blog's event log: what readers must apply, in order.

    `seq` counts 1, 2, 3, ... per blog without gaps and is assigned under a row lock on the blog
    (see services), so seq order is commit order. Readers resume from the last seq they applied.
    """

    class Kind(models.TextChoices):
        POST_CREATED = "post.created", _("post created")
        POST_UPDATED = "post.updated", _("post updated")
        POST_DELETED = "post.deleted", _("post deleted")
        IMPORTANT_CHANGED = "post.important", _("important changed")
        PINNED_CHANGED = "post.pinned", _("pinned changed")
        BLOG_LIVE = "blog.live", _("blog went live")
        BLOG_ARCHIVED = "blog.archived", _("blog archived")
        BLOG_REOPENED = "blog.reopened", _("blog reopened")

    live_blog = models.ForeignKey(LiveBlog, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=Kind)
    post = models.ForeignKey(Post, on_delete=models.CASCADE, null=True, blank=True, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["live_blog", "seq"]
        verbose_name = _("event")
        verbose_name_plural = _("events")
        constraints = [models.UniqueConstraint(fields=["live_blog", "seq"], name="event_seq_unique_per_blog")]

    def __str__(self) -> str:
        return f"{self.live_blog_id}#{self.seq} {self.kind}"
