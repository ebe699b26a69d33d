"""The composer: post to a live blog from its admin page without leaving it.

Plain admin views (wrapped by `admin_site.admin_view` in admin.py, so staff login and CSRF apply),
enhanced with htmx: the form posts in place and the list below refreshes when the blog's event
sequence moves. Without JavaScript every button is a normal form post.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import services
from .forms import ComposerForm, media_with_nonce
from .models import LiveBlog, Post

TEMPLATE = "admin/posts/liveblog/composer.html"
LIST_LIMIT = 50
ACTIONS = {
    "important": lambda post, actor: services.set_important(post, True, actor=actor),
    "unimportant": lambda post, actor: services.set_important(post, False, actor=actor),
    "pin": lambda post, actor: services.set_pinned(post, True, actor=actor),
    "unpin": lambda post, actor: services.set_pinned(post, False, actor=actor),
    "delete": lambda post, actor: services.delete_post(post, actor=actor),
}


def _require(request, perm: str) -> None:
    if not request.user.has_perm(f"posts.{perm}"):
        raise PermissionDenied


def _context(request, blog: LiveBlog, form: ComposerForm | None = None) -> dict:
    posts = blog.posts.for_display()[:LIST_LIMIT]
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
        if not request.htmx:
            messages.success(request, _("Published: %(headline)s") % {"headline": post.headline})
            return redirect("admin:posts_liveblog_composer", blog.pk)
        context = _context(request, blog)
        context["published"] = post
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
    _require(request, "delete_post" if action == "delete" else "change_post")
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
