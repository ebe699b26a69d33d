from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .forms import AuthorForm
from .models import Author


@admin.register(Author)
class AuthorAdmin(admin.ModelAdmin):
    form = AuthorForm
    list_display = ["avatar_thumb", "name", "role", "user"]
    list_display_links = ["avatar_thumb", "name"]
    search_fields = ["name", "role", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["user"]
    readonly_fields = ["avatar_preview"]
    fields = ["name", "slug", "role", "bio", "user", "avatar_preview", "avatar_upload", "remove_avatar"]

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        # Picking the login an author belongs to means browsing the logins, which Editors may not
        # (the picker would answer 403): they see the link, an administrator sets it.
        if not request.user.has_perm("auth.view_user"):
            fields = [*fields, "user"]
        return fields

    @admin.display(description=_("avatar"))
    def avatar_thumb(self, obj: Author) -> str:
        if not obj.avatar:
            return "–"
        return format_html('<img src="{}" width="32" height="32" alt="" class="lb-avatar">', obj.avatar_64)

    @admin.display(description=_("current avatar"))
    def avatar_preview(self, obj: Author) -> str:
        # The admin passes the form's instance, also on the add page (an unsaved Author).
        if not obj.avatar:
            return "–"
        return format_html('<img src="{}" width="128" height="128" alt="">', obj.avatar_128)

    def save_model(self, request, obj: Author, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if form.cleaned_data.get("avatar_upload"):
            obj.replace_avatar(form.cleaned_data["avatar_upload"])
        elif form.cleaned_data.get("remove_avatar"):
            obj.replace_avatar(None)
