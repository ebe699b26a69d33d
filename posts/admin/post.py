"""Posts in the admin: every save, delete and flag goes through posts.services."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from images.processing import ProcessedImage
from posts import services
from posts.forms import PostForm, media_with_nonce
from posts.models import Post, bylines

from .liveblog import error_text

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


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
    def status(self, obj: Post) -> StrOrPromise:
        if obj.is_deleted:
            return _("deleted")
        return _("edited") if obj.edited_at else _("published")

    @admin.display(description=_("current image"))
    def image_preview(self, obj: Post | None) -> str:
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

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        refusal = getattr(request, "liveblog_service_refusal", None)
        if refusal is None:
            return form
        return type(form.__name__, (form,), {"service_refusal": refusal})

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # The form checks the rules early; the service checks them again under the blog's lock,
        # where another editor's save or an archive in between is seen. Its refusal rolls the
        # (atomic) view back; the form is then shown again with the editor's input and the error.
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as refusal:
            if request.method != "POST" or hasattr(request, "liveblog_service_refusal"):
                raise
            request.liveblog_service_refusal = refusal
            return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj: Post, form, change: bool) -> None:
        data = form.cleaned_data
        if not change:
            services.publish_post(
                obj, authors=data["authors"], image=data.get("image_upload"), actor=request.user
            )
            return
        image: ProcessedImage | services.Keep | None = services.KEEP
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
                self.message_user(request, error_text(error), messages.ERROR)

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
                self.message_user(request, f"{post}: {error_text(error)}", messages.ERROR)
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
