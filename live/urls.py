from django.urls import path

from . import views

urlpatterns = [
    path("live/<slug:slug>/events/", views.liveblog_events, name="liveblog-events"),
]
