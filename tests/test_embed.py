"""The embed page for partners' iframes: framing allowed only for configured origins."""

import pytest

from posts import services
from posts.models import Post
from tests.factories import LiveBlogFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def blog():
    blog = LiveBlogFactory(slug="wahl", title="Wahlabend")
    services.publish_post(Post(live_blog=blog, headline="Erste Prognose"))
    return blog


def test_embed_page_shows_the_posts_and_reports_its_height(client, blog):
    html = client.get("/live/wahl/embed/").content.decode()
    assert "Erste Prognose" in html
    assert "js/embed." in html and "js/live/main." in html
    assert '<base target="_blank">' in html


def test_embed_may_be_framed_only_by_configured_origins(client, blog, settings):
    settings.LIVEBLOG_EMBED_ORIGINS = ["https://partner.example"]
    response = client.get("/live/wahl/embed/")
    assert "X-Frame-Options" not in response
    policy = response["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://partner.example" in policy
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy


def test_other_pages_may_not_be_framed_at_all(client, blog):
    response = client.get("/live/wahl/")
    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_embed_of_a_draft_blog_does_not_exist(client):
    LiveBlogFactory(slug="entwurf", state="draft")
    assert client.get("/live/entwurf/embed/").status_code == 404
