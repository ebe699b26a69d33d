"""The composer: post to a live blog from its admin page without leaving it.

Plain admin views (wrapped by `admin_site.admin_view` in admin.py, so staff login and CSRF apply),
enhanced with htmx: the form posts in place and the list below refreshes when the blog's event
sequence moves. Without JavaScript every button is a normal form post.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from authors.models import Author
from images.processing import PHOTO_WIDTHS

from . import broadcast, services
from .forms import ComposerForm, media_with_nonce
from .models import LiveBlog, Post
from .sanitize import clean_html

TEMPLATE = "admin/posts/liveblog/composer.html"
DELIVERY_DELAYED = gettext_lazy("Live delivery is delayed: readers get the post within a minute.")
LIST_LIMIT = 50
ACTIONS = {
    "important": lambda post, actor: services.set_important(post, True, actor=actor),
    "unimportant": lambda post, actor: services.set_important(post, False, actor=actor),
    "pin": lambda post, actor: services.set_pinned(post, True, actor=actor),
    "unpin": lambda post, actor: services.set_pinned(post, False, actor=actor),
    "delete": lambda post, actor: services.delete_post(post, actor=actor),
    "restore": lambda post, actor: services.restore_post(post, actor=actor),
}
# Taking a post away and giving it back need the same permission.
DELETE_ACTIONS = frozenset({"delete", "restore"})
# How long a deleted post's row offers "Undo" (the server accepts it for services.RESTORE_WINDOW).
UNDO_OFFER = timedelta(seconds=30)
# The reader partial a preview renders, exactly as readers (and broadcasts) get it.
READER_POST = "posts/liveblog_detail.html#post"


def _require(request, perm: str) -> None:
    if not request.user.has_perm(f"posts.{perm}"):
        raise PermissionDenied


def _list_posts(blog: LiveBlog) -> list[Post]:
    """The newest posts, each with what the desk shows besides the post itself.

    `undo_seconds`: how long the row of a just-deleted post still offers "Undo" (0: not any more).
    `thumbnail`: the smallest stored rendition of the post's image ("" without one).
    """
    posts = list(blog.posts.for_display()[:LIST_LIMIT])
    now = timezone.now()
    for post in posts:
        left = (post.deleted_at + UNDO_OFFER - now).total_seconds() if post.deleted_at is not None else 0
        # undo_seconds and thumbnail: desk-only display attributes, not fields of Post.
        post.undo_seconds = max(0, int(left))  # type: ignore[attr-defined]
        post.thumbnail = ""  # type: ignore[attr-defined]
        if post.image:
            small = PHOTO_WIDTHS[0]  # stored only for images at least that wide
            post.thumbnail = (  # type: ignore[attr-defined]
                post.image_url(small) if (post.image_width or 0) >= small else post.image.url
            )
    return posts


def _context(request, blog: LiveBlog, form: ComposerForm | None = None) -> dict:
    posts = _list_posts(blog)
    form = form or _empty_form(request, blog)
    return {
        **admin.site.each_context(request),
        "title": _("Composer: %(title)s") % {"title": blog.title},
        "blog": blog,
        "form": form,
        "form_media": media_with_nonce(form.media, request),
        "posts": posts,
        "opts": LiveBlog._meta,
        "can_post": request.user.has_perm("posts.add_post") and not blog.is_archived,
        "can_change": request.user.has_perm("posts.change_post") and not blog.is_archived,
        "can_delete": request.user.has_perm("posts.delete_post") and not blog.is_archived,
    }


def _empty_form(request, blog: LiveBlog) -> ComposerForm:
    author = getattr(request.user, "author", None)
    return ComposerForm(live_blog=blog, initial={"authors": [author.pk] if author else []})


def composer_view(request, blog_id: int):
    _require(request, "view_post")
    blog = get_object_or_404(LiveBlog, pk=blog_id)
    if request.method != "POST":
        return TemplateResponse(request, TEMPLATE, _context(request, blog))

    _require(request, "add_post")
    form = ComposerForm(request.POST, request.FILES, live_blog=blog)
    post = None
    push_failures = broadcast.failure_count()
    if form.is_valid():
        data = form.cleaned_data
        try:
            post = services.publish_post(
                form.save(commit=False),
                authors=data["authors"],
                image=data["image_upload"],
                actor=request.user,
            )
        except ValidationError as error:
            form.add_error(None, error)
    if post is not None:
        blog.refresh_from_db()
        # Saved, but the push did not go out (the channel layer failed or hung): readers get the post
        # from the event log within a heartbeat; the editor should know it is not instant.
        delayed = broadcast.failure_count() > push_failures
        if not request.htmx:
            messages.success(request, _("Published: %(headline)s") % {"headline": post.headline})
            if delayed:
                messages.warning(request, DELIVERY_DELAYED)
            return redirect("admin:posts_liveblog_composer", blog.pk)
        context = _context(request, blog)
        context["published"] = post
        context["delivery_delayed"] = delayed
        return TemplateResponse(request, f"{TEMPLATE}#composer-response", context)

    context = _context(request, blog, form)
    if request.htmx:
        # htmx swaps only 2xx answers by default; the errors are in the form it swaps in.
        return TemplateResponse(request, f"{TEMPLATE}#composer-form", context)
    return TemplateResponse(request, TEMPLATE, context, status=422)


def post_list_view(request, blog_id: int):
    """The list of posts; 204 (htmx keeps what it has) while the blog's sequence has not moved."""
    _require(request, "view_post")
    blog = get_object_or_404(LiveBlog, pk=blog_id)
    if request.GET.get("seq") == str(blog.last_seq):
        return HttpResponse(status=204)
    return TemplateResponse(request, f"{TEMPLATE}#post-list", _context(request, blog))


@require_POST
def post_action_view(request, blog_id: int, post_id: int, action: str):
    if action not in ACTIONS:
        return HttpResponse(status=404)
    _require(request, "delete_post" if action in DELETE_ACTIONS else "change_post")
    blog = get_object_or_404(LiveBlog, pk=blog_id)
    # The post must belong to the blog named in the URL.
    post = get_object_or_404(Post.objects.select_related("live_blog"), pk=post_id, live_blog=blog)
    error_text = ""
    try:
        ACTIONS[action](post, request.user)
    except ValidationError as error:
        error_text = " ".join(error.messages)
    blog.refresh_from_db()
    if not request.htmx:
        if error_text:
            messages.error(request, error_text)
        return redirect(reverse("admin:posts_liveblog_composer", args=[blog.pk]))
    context = _context(request, blog)
    context["action_error"] = error_text
    return TemplateResponse(request, f"{TEMPLATE}#post-list", context)


class PreviewPost:
    """An unsaved post as the reader partial reads it: the picked authors, no link, no pk.

    Post.ordered_authors and get_absolute_url need a saved post; everything else is the Post's.
    """

    pk = "preview"

    def __init__(self, post: Post, authors: list[Author]):
        self._post = post
        self.ordered_authors = authors

    def __getattr__(self, name):
        return getattr(self._post, name)

    def get_absolute_url(self) -> str:
        return "#post-preview"


def _picked_authors(values: list[str]) -> list[Author]:
    """The authors picked in the form, in the byline's order; unknown or malformed ids are left out."""
    ids = list(dict.fromkeys(int(v) for v in values if v.isdigit()))
    by_pk = Author.objects.in_bulk(ids)
    return [by_pk[pk] for pk in ids if pk in by_pk]


def preview_post(blog: LiveBlog, data) -> PreviewPost:
    """The composer's current input as an unsaved post: nothing validated, the body sanitized."""
    post = Post(
        live_blog=blog,
        headline=data.get("headline", "").strip(),
        body=clean_html(data.get("body", "")),
        is_important=bool(data.get("is_important")),
        image_alt=data.get("image_alt", ""),
        image_caption=data.get("image_caption", ""),
        image_credit=data.get("image_credit", ""),
        source=data.get("source", "").strip(),
        published_at=timezone.now(),
    )
    return PreviewPost(post, _picked_authors(data.getlist("authors")))


@require_POST
def preview_view(request, blog_id: int):
    """The post being typed, rendered as readers will see it. Validates nothing, saves nothing.

    The uploaded image is not sent (the desk shows it next to the file field instead).
    """
    _require(request, "view_post")
    _require(request, "add_post")
    blog = get_object_or_404(LiveBlog, pk=blog_id)
    post = preview_post(blog, request.POST)
    if not (post.headline or post.body):
        return TemplateResponse(request, f"{TEMPLATE}#composer-preview-empty", {})
    with translation.override(blog.language), timezone.override(blog.time_zone):
        html = render_to_string(READER_POST, {"post": post})
    return HttpResponse(html)
