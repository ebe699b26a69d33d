"""The reader page's layout in Chromium: phone and desktop, light and dark, posts arriving live.

Static checks run on pytest-django's live server; live arrival and images run on Daphne
(`daphne_server`), the live ones with a Redis channel layer shared with this process (`redis`).
"""

import re

import pytest
from playwright.sync_api import Page, expect

from demo.pictures import chart_png
from images.processing import process_photo
from posts import services
from posts.models import LiveBlog, Post
from tests.browser.conftest import in_worker
from tests.factories import AuthorFactory, LiveBlogFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
CLS_BUDGET = 0.02

BODY = (
    "<p>Die Landeswahlleitung meldet eine „deutlich höhere“ Wahlbeteiligung als vor fünf Jahren; "
    "Donaudampfschifffahrtsgesellschaftskapitänsmütze bleibt ein Wort.</p>"
    "<blockquote><p>„Wir warten die Hochrechnungen ab“, sagte die Ministerpräsidentin.</p></blockquote>"
    "<p>Mehr in unserem <a href='https://example.org/wahl'>Überblick</a>.</p>"
)

# Sums the layout shifts the reader did not cause; installed before any script of the page.
CLS_RECORDER = """
window.__cls = 0;
window.__shifts = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (entry.hadRecentInput) continue;
    window.__cls += entry.value;
    window.__shifts.push({value: entry.value, sources: (entry.sources || []).map(
      (s) => (s.node && s.node.nodeType === 1)
        ? `${s.node.tagName}#${s.node.id}.${s.node.className}` : String(s.node))});
  }
}).observe({type: "layout-shift", buffered: true});
"""

BOXES = """() => {
  const elements = [
    document.querySelector('.liveblog__header'),
    document.querySelector('#important-updates'),
    ...document.querySelectorAll('article.post'),
  ].filter(Boolean);
  return elements.map((el) => {
    const r = el.getBoundingClientRect();
    return {name: el.id || el.className, x: r.left, y: r.top + scrollY, w: r.width, h: r.height};
  });
}"""

CONTRAST = """(selector) => {
  const rgb = (value) => value.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const luminance = ([r, g, b]) => {
    const c = [r, g, b].map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const el = document.querySelector(selector);
  const fg = luminance(rgb(getComputedStyle(el).color));
  const bg = luminance(rgb(getComputedStyle(document.body).backgroundColor));
  return (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
}"""


def publish(blog, headline: str, *, image=None, authors=(), **fields) -> Post:
    return in_worker(
        services.publish_post,
        Post(live_blog=blog, headline=headline, body=BODY, **fields),
        authors=authors,
        image=image,
    )


def make_blog(*, posts: int = 6, images: bool = False, pinned: bool = True) -> LiveBlog:
    blog = LiveBlogFactory(
        language="de",
        kicker="Landtagswahl",
        teaser="Die Wahllokale sind geschlossen, die Zahlen kommen. Alle Entwicklungen im Liveblog.",
    )
    author = AuthorFactory(name="Lena Hartwig")
    for n in range(posts):
        publish(
            blog,
            f"Meldung {n}: Koalitionsverhandlungen und Wahlbeteiligungsrekord",
            authors=[author],
            image=process_photo(chart_png(1200, 800)) if images and n % 2 == 0 else None,
            image_alt="Balkendiagramm" if images and n % 2 == 0 else "",
            is_important=n in (1, 4),
            is_pinned=pinned and n == 0,
        )
    return blog


def assert_no_overlaps(boxes: list[dict]) -> None:
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            overlap_x = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
            overlap_y = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
            assert overlap_x <= 1 or overlap_y <= 1, f"{a['name']} overlaps {b['name']}: {a} {b}"


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=list(VIEWPORTS))
@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_reader_page_fits_the_screen_without_overlaps(new_context, live_server, viewport, color_scheme):
    blog = in_worker(make_blog)
    page = new_context(viewport=VIEWPORTS[viewport], color_scheme=color_scheme).new_page()
    page.goto(live_server.url + blog.get_absolute_url())
    expect(page.locator("#posts > article.post")).to_have_count(5)

    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth"), "horizontal scroll"
    assert_no_overlaps(page.evaluate(BOXES))
    # The reading column keeps a comfortable measure.
    width = page.evaluate("document.querySelector('.post__body').getBoundingClientRect().width")
    assert width <= 46 * 18 + 1
    for selector in (
        ".post__body p",
        ".post__headline",
        ".liveblog__header h1",
        ".post__meta",
        ".post__clock",
    ):
        ratio = page.evaluate(CONTRAST, selector)
        assert ratio >= 4.5, f"{selector}: contrast {ratio:.2f} in {color_scheme}"


def test_dark_mode_changes_the_page(new_context, live_server):
    blog = in_worker(make_blog, posts=2)
    backgrounds = {}
    for scheme in ("light", "dark"):
        page = new_context(color_scheme=scheme).new_page()
        page.goto(live_server.url + blog.get_absolute_url())
        backgrounds[scheme] = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert page.evaluate(CONTRAST, ".post__body p") >= 7, scheme
        lightness = page.evaluate(
            "() => getComputedStyle(document.body).backgroundColor.match(/\\d+/g).slice(0, 3).map(Number)"
        )
        assert (sum(lightness) / 3 < 64) == (scheme == "dark"), (scheme, lightness)
    assert backgrounds["light"] != backgrounds["dark"]


def test_print_shows_text_and_link_targets_without_controls(new_context, live_server):
    blog = in_worker(make_blog, posts=2)
    page = new_context().new_page()
    page.goto(live_server.url + blog.get_absolute_url())
    page.emulate_media(media="print")
    expect(page.locator("#live-bar")).to_be_hidden()
    expect(page.locator(".site-header")).to_be_hidden()
    after = page.evaluate("getComputedStyle(document.querySelector('.post__body a'), '::after').content")
    assert "example.org/wahl" in after or "attr(href)" in after


@pytest.mark.redis
@pytest.mark.parametrize("viewport", VIEWPORTS, ids=list(VIEWPORTS))
def test_posts_arriving_live_do_not_shift_the_layout(page: Page, media_root, daphne_server, viewport):
    blog = in_worker(make_blog, images=True, pinned=False)
    page.set_viewport_size(VIEWPORTS[viewport])
    page.add_init_script(CLS_RECORDER)
    page.goto(daphne_server.url + blog.get_absolute_url())
    expect(page.locator("#live-toggle")).to_be_visible()
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)
    assert page.evaluate("scrollY") == 0
    # The stream starts within the first screen: what arrives would push visible posts down.
    assert page.evaluate(
        "document.querySelector('#posts > article.post').getBoundingClientRect().top < innerHeight - 100"
    )
    before = page.evaluate("window.__cls")

    arrived = []
    for n in range(5):
        arrived.append(publish(blog, f"Eilmeldung {n}: Ergebnis im Wahlkreis"))
        expect(page.locator(f"#post-{arrived[-1].pk}")).to_have_count(1)
        page.wait_for_timeout(200)
    page.wait_for_timeout(1000)  # slide-in transitions and highlights end

    posts = page.locator("#posts > article.post")
    assert posts.first.get_attribute("id") == f"post-{arrived[-1].pk}"
    shift = page.evaluate("window.__cls") - before
    assert shift <= CLS_BUDGET, f"layout shift {shift:.4f}: {page.evaluate('window.__shifts')}"
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")


def test_low_data_mode_holds_images_back_until_tapped(page: Page, media_root, daphne_server):
    blog = in_worker(make_blog, posts=2, images=True)
    url = daphne_server.url + blog.get_absolute_url()
    images = []
    page.on(
        "request",
        lambda request: (
            "/media/" in request.url and request.resource_type == "image" and images.append(request.url)
        ),
    )
    page.goto(url)
    toggle = page.locator("#low-data-toggle")
    expect(toggle).to_be_visible()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")

    images.clear()
    page.reload()
    expect(page.locator("#low-data-toggle")).to_have_attribute("aria-pressed", "true")  # remembered
    figure = page.locator("article.post figure").first
    expect(figure).to_have_class(re.compile(r"\bis-deferred\b"))
    page.wait_for_timeout(500)
    assert not [u for u in images if "/avatars/" not in u and "avatar" not in u], images
    box = figure.locator("img").bounding_box()
    assert box and box["height"] > 100  # the image's box is kept

    figure.locator(".image-load").click()
    expect(figure).not_to_have_class(re.compile(r"\bis-deferred\b"))
    page.wait_for_function("() => document.querySelector('article.post figure img').naturalWidth > 0")
