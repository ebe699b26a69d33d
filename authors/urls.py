from django.urls import path

from . import views

urlpatterns = [
    path("<slug:slug>/", views.author_detail, name="author-detail"),
]
