"""The event log in the admin, read-only."""

from __future__ import annotations

from django.contrib import admin

from posts.models import Event


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
