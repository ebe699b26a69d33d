"""Live blogs in the admin: settings, and state changes as confirmed actions."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, TypedDict

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Max
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from posts import composer, services
from posts.models import LiveBlog

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise, WithAnnotations


class _Totals(TypedDict):
    """What LiveBlogAdmin.get_queryset() annotates on each blog."""

    post_total: int
    last_post: datetime | None


def error_text(error: ValidationError) -> str:
    return " ".join(error.messages)


@admin.register(LiveBlog)
class LiveBlogAdmin(admin.ModelAdmin):
    list_display = ["title", "state_label", "language", "post_count", "last_post_at", "links"]
    list_filter = ["state", "language"]
    search_fields = ["title", "slug", "kicker", "teaser"]
    prepopulated_fields = {"slug": ["title"]}
    autocomplete_fields = ["successor"]
    readonly_fields = [
        "state",
        "coverage_started_at",
        "coverage_ended_at",
        "last_seq",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["kicker", "title", "slug", "teaser", "state"]}),
        (_("Settings"), {"fields": ["language", "time_zone", "credit_line"]}),
        (_("After the coverage"), {"fields": ["topic_title", "topic_url", "successor"]}),
        (
            _("Record"),
            {
                "classes": ["collapse"],
                "fields": [
                    "coverage_started_at",
                    "coverage_ended_at",
                    "last_seq",
                    "created_at",
                    "updated_at",
                ],
            },
        ),
    ]
    actions = ["go_live_action", "archive_action", "reopen_action"]
    change_form_template = "admin/posts/liveblog/change_form.html"

    def get_readonly_fields(self, request, obj=None):
        # Readers, feeds, partners' embeds and search engines hold the URL from the moment the blog
        # went live; open pages keep their socket path. It stays the blog's address for good.
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and not obj.is_draft:
            fields.append("slug")
        return fields

    def get_prepopulated_fields(self, request, obj=None):
        return {} if obj is not None and not obj.is_draft else super().get_prepopulated_fields(request, obj)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(post_total=Count("posts"), last_post=Max("posts__published_at"))
            # Meta.ordering does not apply to a GROUP BY query: the successor picker's pages
            # (autocomplete) would come unordered.
            .order_by("-created_at", "-pk")
        )

    @admin.display(description=_("state"), ordering="state")
    def state_label(self, obj: LiveBlog) -> str:
        return format_html(
            '<span class="lb-state lb-state--{}">{}</span>', obj.state, obj.get_state_display()
        )

    @admin.display(description=_("posts"), ordering="post_total")
    def post_count(self, obj: WithAnnotations[LiveBlog, _Totals]) -> int:
        return obj.post_total

    @admin.display(description=_("last post"), ordering="last_post")
    def last_post_at(self, obj: WithAnnotations[LiveBlog, _Totals]) -> datetime | None:
        return obj.last_post

    @admin.display(description=_("open"))
    def links(self, obj: LiveBlog) -> str:
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a>',
            reverse("admin:posts_liveblog_composer", args=[obj.pk]),
            _("Composer"),
            obj.get_absolute_url(),
            _("Reader page"),
        )

    def has_change_permission(self, request, obj=None):
        # Archived blogs are frozen: the admin shows them read-only.
        if obj is not None and obj.is_archived:
            return False
        return super().has_change_permission(request, obj)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:blog_id>/composer/", view(composer.composer_view), name="posts_liveblog_composer"),
            path(
                "<int:blog_id>/composer/preview/",
                view(composer.preview_view),
                name="posts_liveblog_composer_preview",
            ),
            path(
                "<int:blog_id>/composer/posts/",
                view(composer.post_list_view),
                name="posts_liveblog_composer_posts",
            ),
            path(
                "<int:blog_id>/composer/posts/<int:post_id>/<str:action>/",
                view(composer.post_action_view),
                name="posts_liveblog_composer_action",
            ),
            *super().get_urls(),
        ]

    # State changes: admin actions with a confirmation step, carried out by the services.
    def _confirm_and_run(
        self, request, queryset, *, service, permission: str, verb: StrOrPromise, question: StrOrPromise
    ):
        if not request.user.has_perm(f"posts.{permission}"):
            raise PermissionDenied
        if request.POST.get("confirmed") != "yes":
            return TemplateResponse(
                request,
                "admin/posts/liveblog/confirm_state_change.html",
                {
                    **self.admin_site.each_context(request),
                    "title": question,
                    "question": question,
                    "blogs": queryset,
                    "action": request.POST.get("action"),
                    "verb": verb,
                    "opts": self.model._meta,
                    "action_checkbox_name": ACTION_CHECKBOX_NAME,
                },
            )
        done = 0
        for blog in queryset:
            try:
                service(blog, actor=request.user)
                done += 1
            except ValidationError as error:
                self.message_user(request, error_text(error), messages.ERROR)
        if done:
            self.message_user(
                request,
                ngettext("%(n)d live blog changed.", "%(n)d live blogs changed.", done) % {"n": done},
                messages.SUCCESS,
            )
        return None

    @admin.action(description=_("Go live with the selected blogs"), permissions=["go_live"])
    def go_live_action(self, request, queryset):
        return self._confirm_and_run(
            request,
            queryset,
            service=services.go_live,
            permission="go_live_liveblog",
            verb=_("Go live"),
            question=_("Take these live blogs live? Readers will see them at once."),
        )

    @admin.action(description=_("Archive the selected blogs"), permissions=["archive"])
    def archive_action(self, request, queryset):
        return self._confirm_and_run(
            request,
            queryset,
            service=services.archive_blog,
            permission="archive_liveblog",
            verb=_("Archive"),
            question=_(
                "Archive these live blogs? They become read-only and readers are pointed to the topic page."
            ),
        )

    @admin.action(description=_("Reopen the selected archived blogs"), permissions=["reopen"])
    def reopen_action(self, request, queryset):
        return self._confirm_and_run(
            request,
            queryset,
            service=services.reopen_blog,
            permission="reopen_liveblog",
            verb=_("Reopen"),
            question=_("Reopen these archived live blogs for new posts?"),
        )

    def has_go_live_permission(self, request):
        return request.user.has_perm("posts.go_live_liveblog")

    def has_archive_permission(self, request):
        return request.user.has_perm("posts.archive_liveblog")

    def has_reopen_permission(self, request):
        return request.user.has_perm("posts.reopen_liveblog")
