"""The reader page's first view stays light: HTML + CSS + JS (no web fonts) within 100 KB gzipped,
and nothing is fetched from third parties.

Post images are not counted (they are lazy and optional in low-data mode); everything else a
first view needs is: the page, the stylesheet, htmx, the live client's modules (js/live/main.js and
the modules it imports, each named by a modulepreload link) and reader.js.
"""

import gzip
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders

from posts import services
from posts.models import Post
from tests.factories import AuthorFactory, LiveBlogFactory

pytestmark = pytest.mark.django_db

BUDGET = 100 * 1024


class Assets(HTMLParser):
    """src/href of <script>, <link rel=stylesheet|preload|icon…> and <img>."""

    def __init__(self):
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.urls.append((tag, attrs["src"]))
        elif (
            tag == "link"
            and attrs.get("href")
            and attrs.get("rel") not in ("canonical", "alternate", "prev", "next")
        ):
            self.urls.append((tag, attrs["href"]))
        elif tag == "img":
            for name in ("src", "srcset"):
                if attrs.get(name):
                    self.urls.extend((tag, part.strip().split(" ")[0]) for part in attrs[name].split(","))


def gzipped(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=6))


def static_file(url: str) -> Path:
    path = urlsplit(url).path
    assert path.startswith(settings.STATIC_URL), f"{url} is not one of our static files"
    name = path[len(settings.STATIC_URL) :]
    # With production settings the page names fingerprinted copies in STATIC_ROOT (collectstatic).
    collected = Path(settings.STATIC_ROOT) / name
    found = finders.find(name) or (str(collected) if collected.is_file() else None)
    assert found, f"{url} not found by the staticfiles finders nor in STATIC_ROOT"
    return Path(found)


@pytest.fixture
def reader_html(client):
    blog = LiveBlogFactory(language="de", kicker="Landtagswahl", teaser="Alle Entwicklungen des Abends. " * 3)
    author = AuthorFactory()
    for n in range(25):  # more than a page: the first view shows 20
        services.publish_post(
            Post(
                live_blog=blog,
                headline=f"Meldung {n}: Die Lage am Abend",
                body="<p>Die Wahllokale haben geschlossen, die ersten Zahlen kommen „bald“.</p>" * 4,
                is_important=n % 7 == 0,
            ),
            authors=[author],
        )
    response = client.get(blog.get_absolute_url())
    assert response.status_code == 200
    return response.content


def test_first_view_of_the_reader_page_is_at_most_100_kb_compressed(reader_html):
    parser = Assets()
    parser.feed(reader_html.decode())
    code = [url for tag, url in parser.urls if tag in ("script", "link")]
    names = {Path(urlsplit(url).path).name.split(".")[0] for url in code}
    assert {"liveblog", "main", "reader"} <= names and any("htmx" in url for url in code), code

    sizes = {"page": gzipped(reader_html)}
    for url in code:
        sizes[url] = gzipped(static_file(url).read_bytes())
    total = sum(sizes.values())
    assert total <= BUDGET, f"{total / 1024:.1f} KB > {BUDGET // 1024} KB compressed: {sizes}"


def test_reader_page_asks_no_third_party_for_anything(reader_html):
    parser = Assets()
    parser.feed(reader_html.decode())
    assert parser.urls
    third_party = [url for _tag, url in parser.urls if url.startswith(("http://", "https://", "//"))]
    assert third_party == []
