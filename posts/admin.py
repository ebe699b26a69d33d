"""The editors' desk in the Django admin.

Every change readers see goes through posts/services.py: save_model, delete_model, bulk actions
and the composer call services, never Model.save() on their own.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Max
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import composer, services
from .forms import PostForm, media_with_nonce
from .models import Event, LiveBlog, Post, bylines


def _error_text(error: ValidationError) -> str:
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
    def post_count(self, obj: LiveBlog) -> int:
        return obj.post_total

    @admin.display(description=_("last post"), ordering="last_post")
    def last_post_at(self, obj: LiveBlog):
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
    def _confirm_and_run(self, request, queryset, *, service, permission: str, verb: str, question: str):
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
                    "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                },
            )
        done = 0
        for blog in queryset:
            try:
                service(blog, actor=request.user)
                done += 1
            except ValidationError as error:
                self.message_user(request, _error_text(error), messages.ERROR)
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


class DeletedFilter(admin.SimpleListFilter):
    title = _("deleted")
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("no", _("Visible to readers")), ("yes", _("Deleted"))]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    form = PostForm
    list_display = ["headline", "live_blog", "published_at", "is_important", "is_pinned", "byline", "status"]
    list_filter = ["live_blog", "is_important", "is_pinned", DeletedFilter]
    list_select_related = ["live_blog"]
    search_fields = ["headline", "body"]
    date_hierarchy = "published_at"
    actions = ["delete_selected", "mark_important", "unmark_important"]
    readonly_fields = ["image_preview"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(bylines())

    def render_change_form(self, request, context, *args, **kwargs):
        context["media"] = media_with_nonce(context["media"], request)
        return super().render_change_form(request, context, *args, **kwargs)

    def get_fieldsets(self, request, obj=None):
        # Built here rather than as a class attribute: "authors" is the form's ordered-authors
        # field, which the admin's static check would mistake for the through-model M2M.
        image_fields = [
            "image_preview",
            "image_upload",
            "remove_image",
            "image_alt",
            "image_caption",
            "image_credit",
        ]
        if obj is None:  # nothing to remove on a new post
            image_fields.remove("remove_image")
        return [
            (
                None,
                {
                    "fields": [
                        "live_blog",
                        "headline",
                        "body",
                        "authors",
                        "is_important",
                        "is_pinned",
                        "base_version",
                    ]
                },
            ),
            (_("Image"), {"fields": image_fields}),
            (_("Details"), {"fields": ["source", "published_at"]}),
        ]

    @admin.display(description=_("authors"))
    def byline(self, obj: Post) -> str:
        return ", ".join(a.name for a in obj.ordered_authors)

    @admin.display(description=_("status"))
    def status(self, obj: Post) -> str:
        if obj.is_deleted:
            return _("deleted")
        return _("edited") if obj.edited_at else _("published")

    @admin.display(description=_("current image"))
    def image_preview(self, obj: Post) -> str:
        if not obj or not obj.image:
            return "–"
        return format_html(
            '<img src="{}" alt="{}" width="240" class="lb-thumb">',
            obj.image_url(480) if obj.image_width and obj.image_width >= 480 else obj.image.url,
            obj.image_alt,
        )

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        author = getattr(request.user, "author", None)
        if author is not None and "authors" not in initial:
            initial["authors"] = [author.pk]
        return initial

    def _frozen(self, obj: Post | None) -> bool:
        return obj is not None and (obj.live_blog.is_archived or obj.is_deleted)

    def has_change_permission(self, request, obj=None):
        return not self._frozen(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self._frozen(obj) and super().has_delete_permission(request, obj)

    def save_model(self, request, obj: Post, form, change: bool) -> None:
        data = form.cleaned_data
        if not change:
            services.publish_post(
                obj, authors=data["authors"], image=data.get("image_upload"), actor=request.user
            )
            return
        image = services.KEEP
        if data.get("image_upload"):
            image = data["image_upload"]
        elif data.get("remove_image"):
            image = None
        services.update_post(
            obj,
            authors=data["authors"],
            image=image,
            expected_version=data.get("base_version"),
            actor=request.user,
        )

    def save_related(self, request, form, formsets, change) -> None:
        # Authors were written by the service, in byline order; the form's M2M save would reorder.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def delete_model(self, request, obj: Post) -> None:
        services.delete_post(obj, actor=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for post in queryset.select_related("live_blog"):
            try:
                services.delete_post(post, actor=request.user)
            except ValidationError as error:
                self.message_user(request, _error_text(error), messages.ERROR)

    def get_deleted_objects(self, objs, request):
        # Soft delete: only the posts themselves leave the readers' view; nothing cascades.
        perms_needed = set() if self.has_delete_permission(request) else {self.opts.verbose_name}
        return [str(obj) for obj in objs], {self.opts.verbose_name_plural: len(objs)}, perms_needed, []

    def _set_important(self, request, queryset, value: bool) -> None:
        changed = 0
        for post in queryset.select_related("live_blog"):
            try:
                services.set_important(post, value, actor=request.user)
                changed += 1
            except ValidationError as error:
                self.message_user(request, f"{post}: {_error_text(error)}", messages.ERROR)
        if changed:
            self.message_user(
                request,
                ngettext("%(n)d post changed.", "%(n)d posts changed.", changed) % {"n": changed},
                messages.SUCCESS,
            )

    @admin.action(description=_("Mark as important"), permissions=["change"])
    def mark_important(self, request, queryset):
        self._set_important(request, queryset, True)

    @admin.action(description=_("Remove the important mark"), permissions=["change"])
    def unmark_important(self, request, queryset):
        self._set_important(request, queryset, False)


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """The event log, read-only: it is written by the services alone."""

    list_display = ["live_blog", "seq", "kind", "post", "actor", "created_at"]
    list_filter = ["kind", "live_blog"]
    list_select_related = ["live_blog", "post", "actor"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
