from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("authors/", include("authors.urls")),
    path("", include("posts.urls")),
]

if settings.SERVE_MEDIA:
    # Stored names are random and files are re-encoded images; nosniff comes from SecurityMiddleware.
    urlpatterns += [
        re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
    ]
