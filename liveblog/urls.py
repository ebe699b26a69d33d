from django.conf import settings
from django.contrib import admin
from django.contrib.sitemaps.views import sitemap
from django.http import HttpResponse
from django.urls import include, path, re_path, reverse
from django.views.decorators.cache import cache_control
from django.views.static import serve

from accounts.views import two_factor
from posts.feeds import ImportantUpdatesFeed, LiveBlogFeed
from posts.sitemaps import LiveBlogSitemap, PostSitemap

SITEMAPS = {"blogs": LiveBlogSitemap, "posts": PostSitemap}

handler400 = "liveblog.middleware.bad_request"
handler500 = "liveblog.middleware.server_error"


@cache_control(max_age=86400, public=True)
def robots_txt(request):
    sitemap_url = request.build_absolute_uri(reverse("sitemap"))
    lines = ["User-agent: *", "Disallow: /admin/", "Disallow: /ws/", f"Sitemap: {sitemap_url}", ""]
    return HttpResponse("\n".join(lines), content_type="text/plain; charset=utf-8")


urlpatterns = [
    path("admin/two-factor/", admin.site.admin_view(two_factor), name="two-factor"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("live/<slug:slug>/feed/", LiveBlogFeed(), name="liveblog-feed"),
    path("live/<slug:slug>/feed/important/", ImportantUpdatesFeed(), name="liveblog-feed-important"),
    path("", include("ops.urls")),
    path("", include("api.urls")),
    path("", include("live.urls")),
    path("sitemap.xml", sitemap, {"sitemaps": SITEMAPS}, name="sitemap"),
    path("robots.txt", robots_txt, name="robots-txt"),
    path("", include("posts.urls")),
]


def media(request, path: str):
    """Uploaded images. Stored names are random and files re-encoded; nosniff comes from
    SecurityMiddleware. MEDIA_ROOT is read per request, so it always matches the storage's."""
    return serve(request, path, document_root=str(settings.MEDIA_ROOT))


if settings.SERVE_MEDIA:
    urlpatterns += [re_path(r"^media/(?P<path>.*)$", media, name="media")]
