"""The reader page, permalinks, older posts, author pages and archived pages, as readers get them."""

import zoneinfo
from datetime import timedelta

import extruct
import pytest
from django.utils import timezone

from posts import services
from posts.models import LiveBlog, Post
from tests.factories import AuthorFactory, LiveBlogFactory

pytestmark = pytest.mark.django_db


def publish(blog, headline="Meldung", minutes_ago=0, **fields):
    authors = fields.pop("authors", ())
    post = Post(
        live_blog=blog,
        headline=headline,
        published_at=timezone.now() - timedelta(minutes=minutes_ago),
        **fields,
    )
    return services.publish_post(post, authors=authors)


@pytest.fixture
def blog():
    return LiveBlogFactory(slug="wahl", title="Wahlabend", language="en")


def test_home_lists_live_blogs_before_archived_and_hides_drafts(client):
    LiveBlogFactory(title="Alter Blog", state=LiveBlog.State.ARCHIVED)
    LiveBlogFactory(title="Aktueller Blog")
    LiveBlogFactory(title="Entwurf", state=LiveBlog.State.DRAFT)
    html = client.get("/").content.decode()
    assert html.index("Aktueller Blog") < html.index("Alter Blog")
    assert "Entwurf" not in html


def test_reader_page_shows_posts_newest_first_with_contract_ids(client, blog):
    author = AuthorFactory(name="Lena Hartwig", slug="lena")
    old = publish(blog, "Früher", minutes_ago=30, authors=[author])
    new = publish(blog, "Später", minutes_ago=5, is_important=True)
    html = client.get("/live/wahl/").content.decode()
    assert html.index(f'id="post-{new.pk}"') < html.index(f'id="post-{old.pk}"')
    assert '<nav id="important-updates"' in html and f'href="#post-{new.pk}">Später</a>' in html
    local = timezone.localtime(old.published_at, blog.tzinfo)
    assert f'<time datetime="{local:%Y-%m-%dT%H:%M:%S}' in html
    assert 'href="/authors/lena/"' in html
    assert f'data-seq="{blog.last_seq}"' in html or 'data-seq="2"' in html


def test_pinned_post_comes_first_and_once(client, blog):
    pinned = publish(blog, "Das Wichtigste", minutes_ago=60, is_pinned=True)
    publish(blog, "Neu", minutes_ago=1)
    html = client.get("/live/wahl/").content.decode()
    assert html.count(f'id="post-{pinned.pk}"') == 1
    assert html.index(f'id="post-{pinned.pk}"') < html.index("Neu</a>")


def test_draft_blog_and_deleted_post_are_not_found(client, blog):
    LiveBlogFactory(slug="geheim", state=LiveBlog.State.DRAFT)
    assert client.get("/live/geheim/").status_code == 404
    post = publish(blog, "Falsch")
    services.delete_post(post)
    assert client.get(f"/live/wahl/posts/{post.pk}/").status_code == 404
    assert f'id="post-{post.pk}"' not in client.get("/live/wahl/").content.decode()


def test_older_posts_load_in_pages_by_a_stable_cursor(client, blog):
    posts = [publish(blog, f"Meldung {n}", minutes_ago=100 - n) for n in range(25)]  # posts[-1] newest
    html = client.get("/live/wahl/").content.decode()
    assert html.count('<article id="post-') == 20
    assert f"cursor={posts[5].pk}" in html
    publish(blog, "Ganz neu")  # a new post must not shift the next page
    fragment = client.get(
        f"/live/wahl/?cursor={posts[5].pk}", headers={"HX-Request": "true"}
    ).content.decode()
    assert "<html" not in fragment
    assert [p.pk for p in posts[:5][::-1]] == [p.pk for p in posts if f'id="post-{p.pk}"' in fragment][::-1]
    assert "cursor=" not in fragment  # the end
    full = client.get(f"/live/wahl/?cursor={posts[5].pk}").content.decode()
    assert "<html" in full and f'id="post-{posts[0].pk}"' in full


def test_older_posts_show_times_in_the_blogs_time_zone(client):
    blog = LiveBlogFactory(slug="nyc", language="en", time_zone="America/New_York")
    posts = [publish(blog, f"Update {n}", minutes_ago=100 - n) for n in range(25)]
    page = client.get("/live/nyc/").content.decode()
    fragment = client.get(f"/live/nyc/?cursor={posts[5].pk}", headers={"HX-Request": "true"}).content.decode()

    offset = timezone.localtime(posts[0].published_at, zoneinfo.ZoneInfo("America/New_York")).strftime("%z")
    offset = f"{offset[:3]}:{offset[3:]}"  # as in the datetime attribute, e.g. -05:00
    assert offset in page
    assert offset in fragment
    assert "+01:00" not in fragment and "+02:00" not in fragment


def test_permalink_page_contains_the_post_even_when_old_and_sets_opengraph(client, blog):
    posts = [publish(blog, f"Meldung {n}", minutes_ago=100 - n, body=f"<p>Text {n}</p>") for n in range(30)]
    oldest = posts[0]
    html = client.get(f"/live/wahl/posts/{oldest.pk}/").content.decode()
    assert f'id="post-{oldest.pk}"' in html
    assert f'data-focus="post-{oldest.pk}"' in html
    assert '<meta property="og:title" content="Meldung 0">' in html
    assert '<meta property="og:description" content="Text 0">' in html


def test_author_page_shows_profile_and_recent_posts(client, blog):
    author = AuthorFactory(
        name="Lena Hartwig", slug="lena", role="Korrespondentin", bio="Berichtet seit 2010."
    )
    publish(blog, "Von Lena", authors=[author])
    html = client.get("/authors/lena/").content.decode()
    assert "Korrespondentin" in html and "Berichtet seit 2010." in html and "Von Lena" in html


def test_reader_page_has_live_blog_structured_data(client, blog):
    author = AuthorFactory(name="Lena Hartwig", slug="lena")
    post = publish(blog, "Erste Prognose", body="<p>Die <b>Union</b> vorn.</p>", authors=[author])
    html = client.get("/live/wahl/").content.decode()
    items = extruct.extract(html, base_url="http://testserver/live/wahl/", syntaxes=["json-ld"])["json-ld"]
    posting = next(item for item in items if item["@type"] == "LiveBlogPosting")
    assert posting["headline"] == "Wahlabend" and "coverageEndTime" not in posting
    update = posting["liveBlogUpdate"][0]
    assert update["@type"] == "BlogPosting" and update["headline"] == "Erste Prognose"
    assert update["articleBody"] == "Die Union vorn."
    assert update["url"].endswith(f"/live/wahl/#post-{post.pk}")
    assert update["author"][0]["name"] == "Lena Hartwig"
    assert update["datePublished"] and update["dateModified"]


def test_structured_data_cannot_break_out_of_its_script(client, blog):
    publish(blog, "</script><script>alert(1)</script>")
    html = client.get("/live/wahl/").content.decode()
    assert "</script><script>alert(1)" not in html


class TestArchivedPage:
    @pytest.fixture
    def archived(self, blog):
        successor = LiveBlogFactory(slug="wahl-tag-2", title="Wahl, Tag 2")
        publish(blog, "Erste", minutes_ago=50)
        publish(blog, "Letzte", minutes_ago=10)
        blog.successor = successor
        blog.topic_url = "https://example.org/themen/wahl"
        blog.save()
        return services.archive_blog(blog)

    def test_notice_links_the_successor_which_links_back(self, client, archived):
        html = client.get("/live/wahl/").content.decode()
        assert '<div id="archive-notice" role="status">' in html
        assert 'href="/live/wahl-tag-2/"' in html
        back = client.get("/live/wahl-tag-2/").content.decode()
        assert 'href="/live/wahl/" rel="prev"' in back

    def test_archived_page_loads_no_live_code_and_is_cacheable(self, client, archived):
        response = client.get("/live/wahl/")
        html = response.content.decode()
        assert "js/live/" not in html and "data-ws-path" in html  # attribute is inert without the script
        assert "public" in response["Cache-Control"] and "max-age=3600" in response["Cache-Control"]
        assert response["ETag"] and response["Last-Modified"]

    def test_conditional_get_answers_304(self, client, archived):
        first = client.get("/live/wahl/")
        again = client.get("/live/wahl/", headers={"If-None-Match": first["ETag"]})
        assert again.status_code == 304
        since = client.get("/live/wahl/", headers={"If-Modified-Since": first["Last-Modified"]})
        assert since.status_code == 304

    def test_reader_can_switch_to_oldest_first(self, client, archived):
        newest = client.get("/live/wahl/").content.decode()
        oldest = client.get("/live/wahl/?order=oldest").content.decode()
        assert newest.index("Letzte</a>") < newest.index("Erste</a>")
        assert oldest.index("Erste</a>") < oldest.index("Letzte</a>")

    def test_structured_data_has_coverage_end(self, client, archived):
        html = client.get("/live/wahl/").content.decode()
        items = extruct.extract(html, syntaxes=["json-ld"])["json-ld"]
        assert items[0]["coverageEndTime"]


def test_live_page_is_revalidated_not_cached(client, blog):
    response = client.get("/live/wahl/")
    assert "no-cache" in response["Cache-Control"]
    assert "js/live/main." in response.content.decode()


def test_archive_notice_points_to_the_topic_page_while_the_successor_is_a_draft(client, blog):
    blog.successor = LiveBlogFactory(slug="noch-geheim", state=LiveBlog.State.DRAFT)
    blog.topic_url = "https://example.org/themen/wahl"
    blog.topic_title = "Themenseite Wahl"
    blog.save()
    services.archive_blog(blog)
    html = client.get("/live/wahl/").content.decode()
    assert "noch-geheim" not in html
    assert 'href="https://example.org/themen/wahl">Themenseite Wahl</a>' in html


@pytest.mark.parametrize("path", ["", "embed/", "events/?after=0", "post"])
def test_reader_answers_are_in_the_blogs_language_for_every_browser(client, path):
    blog = LiveBlogFactory(language="en", slug="election-night")
    post = publish(blog)
    url = f"/live/{blog.slug}/posts/{post.pk}/" if path == "post" else f"/live/{blog.slug}/{path}"

    german_browser = client.get(url, headers={"accept-language": "de"})

    assert german_browser.status_code == 200
    assert german_browser["Content-Language"] == "en"
    assert "Accept-Language" not in german_browser.get("Vary", "")


def test_older_posts_whose_page_was_deleted_bring_no_empty_state(client, blog):
    posts = [publish(blog, f"Meldung {n}", minutes_ago=100 - n) for n in range(23)]
    for post in posts[:3]:  # the whole next page
        services.delete_post(post)
    fragment = client.get(
        f"/live/wahl/?cursor={posts[3].pk}", headers={"HX-Request": "true"}
    ).content.decode()
    # "No updates yet." belongs to an empty blog, not to the end of a long one.
    assert 'class="empty"' not in fragment and "No updates yet." not in fragment
    assert "<article" not in fragment and "cursor=" not in fragment


def test_empty_blog_says_no_updates_yet(client, blog):
    html = client.get("/live/wahl/").content.decode()
    assert '<p class="empty">No updates yet.</p>' in html


def test_important_updates_carry_their_published_time_for_live_placement(client, blog):
    post = publish(blog, "Wichtig", minutes_ago=5, is_important=True)
    html = client.get("/live/wahl/").content.decode()
    published = timezone.localtime(post.published_at, blog.tzinfo).isoformat()
    assert f'<li data-post="{post.pk}" data-published="{published}">' in html
