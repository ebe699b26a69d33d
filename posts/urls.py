from django.urls import path

from . import views

urlpatterns = [
    path("", views.liveblog_list, name="liveblog-list"),
    path("live/<slug:slug>/", views.liveblog_detail, name="liveblog-detail"),
    path("live/<slug:slug>/posts/<int:pk>/", views.post_detail, name="post-detail"),
    path("live/<slug:slug>/embed/", views.liveblog_embed, name="liveblog-embed"),
    path("authors/<slug:slug>/", views.author_detail, name="author-detail"),
]
