from django.contrib.sitemaps import Sitemap

from .models import LiveBlog, Post


class LiveBlogSitemap(Sitemap):
    def items(self):
        return LiveBlog.objects.public().order_by("pk")

    def lastmod(self, blog: LiveBlog):
        return blog.updated_at

    def changefreq(self, blog: LiveBlog) -> str:
        return "never" if blog.is_archived else "always"


class PostSitemap(Sitemap):
    changefreq = "never"
    limit = 5000

    def items(self):
        return Post.objects.public().select_related("live_blog").order_by("pk")

    def lastmod(self, post: Post):
        return post.edited_at or post.published_at
