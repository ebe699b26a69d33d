from django.urls import path

from . import views

urlpatterns = [
    path("api/live/<slug:slug>/", views.liveblog, name="api-liveblog"),
    path("api/live/<slug:slug>/events/", views.liveblog_events, name="api-liveblog-events"),
    path("api/schema/", views.schema, name="api-schema"),
]
