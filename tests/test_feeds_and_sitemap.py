"""Atom feeds, sitemap and robots.txt: what aggregators and search engines read."""

from datetime import UTC, datetime

import feedparser
import pytest

from posts import services
from posts.models import LiveBlog, Post
from tests.factories import AuthorFactory, LiveBlogFactory

pytestmark = pytest.mark.django_db


def publish(blog, headline, **fields):
    authors = fields.pop("authors", ())
    return services.publish_post(Post(live_blog=blog, headline=headline, **fields), authors=authors)


@pytest.fixture
def blog():
    blog = LiveBlogFactory(slug="wahl", title="Wahlabend", credit_line="© dpa")
    author = AuthorFactory(name="Lena Hartwig")
    publish(
        blog,
        "Erste Prognose",
        body="<p>Die <strong>Union</strong> vorn.</p>",
        authors=[author],
        is_important=True,
    )
    publish(blog, "Stimmung im Saal", body="<p>Jubel.</p>", authors=[author])
    gone = publish(blog, "Falsche Zahl")
    services.delete_post(gone)
    return blog


def test_feed_lists_visible_posts_with_stable_ids_authors_and_content(client, blog):
    response = client.get("/live/wahl/feed/")
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.bozo_exception
    assert feed.feed.title == "Wahlabend"
    titles = [entry.title for entry in feed.entries]
    assert titles == ["Stimmung im Saal", "Erste Prognose"]
    first = feed.entries[1]
    post = Post.objects.get(headline="Erste Prognose")
    assert first.id.endswith(f"/live/wahl/posts/{post.pk}/")
    assert first.author == "Lena Hartwig"
    assert "<strong>Union</strong>" in first.summary
    assert first.updated_parsed


@pytest.mark.parametrize("language", ["de", "en"])
def test_feed_declares_the_blog_language(client, blog, language):
    LiveBlog.objects.filter(pk=blog.pk).update(language=language)
    for path in ("/live/wahl/feed/", "/live/wahl/feed/important/"):
        assert f'<feed xml:lang="{language}"' in client.get(path).content.decode()


def test_edit_updates_the_entry_without_changing_its_id(client, blog):
    post = Post.objects.get(headline="Stimmung im Saal")
    before = feedparser.parse(client.get("/live/wahl/feed/").content).entries[0]
    post.body = "<p>Großer Jubel.</p>"
    post.edited_at = None
    services.update_post(post)
    after = feedparser.parse(client.get("/live/wahl/feed/").content).entries[0]
    assert after.id == before.id
    assert after.updated_parsed >= before.updated_parsed
    assert "Großer Jubel" in after.summary


def test_important_feed_has_only_important_posts(client, blog):
    feed = feedparser.parse(client.get("/live/wahl/feed/important/").content)
    assert not feed.bozo
    assert [entry.title for entry in feed.entries] == ["Erste Prognose"]


def test_feeds_of_draft_blogs_do_not_exist(client):
    LiveBlogFactory(slug="geheim", state=LiveBlog.State.DRAFT)
    assert client.get("/live/geheim/feed/").status_code == 404
    assert client.get("/live/geheim/feed/important/").status_code == 404


def test_sitemap_lists_public_blogs_and_visible_post_permalinks(client, blog):
    LiveBlogFactory(slug="entwurf", state=LiveBlog.State.DRAFT)
    body = client.get("/sitemap.xml").content.decode()
    assert "/live/wahl/</loc>" in body
    for post in Post.objects.all():
        assert (f"/live/wahl/posts/{post.pk}/</loc>" in body) is (post.deleted_at is None)
    assert "entwurf" not in body


def test_robots_txt_points_to_the_sitemap_and_keeps_out_of_the_admin(client):
    body = client.get("/robots.txt").content.decode()
    assert "Disallow: /admin/" in body
    assert "Sitemap: http://testserver/sitemap.xml" in body


def test_feed_entry_times_are_the_publication_times(client, blog):
    feed = feedparser.parse(client.get("/live/wahl/feed/").content)
    published = Post.objects.get(headline="Erste Prognose").published_at
    entry = feed.entries[1]
    assert abs((datetime(*entry.published_parsed[:6], tzinfo=UTC) - published).total_seconds()) < 1
