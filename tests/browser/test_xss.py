"""XSS payloads end to end: saved through the app, shown to readers in Chromium, nothing runs.

A deterministic sample of tests/xss_corpus.py (`browser_sample`: every category) is published
through the admin composer over HTTP (the app's save path: form, services, clean_html) while a
reader page is open on Daphne, so the posts arrive live over the WebSocket (stream.js puts them in
with a <template>). Then a fresh reader page loads them as server-rendered HTML, and its "Load
older posts" link fetches the rest through htmx (which would run <script> it swaps in). Edits go
the third way the live client handles (post_updated).

Every page gets an init script (in every frame, before any of the page's own) that traps
alert/confirm/prompt/print in `window.__xss` and records `securitypolicyviolation` events. Each
test runs with the site's CSP enforced and with CSP bypassed (`bypass_csp=True`), so the sanitizer
alone is shown to be enough, not the CSP in front of it. Besides the traps, the reader's own DOM (the
browser's parser and URL parser, not nh3's) is checked: only allowed elements and attributes in the
post bodies, only http/https/mailto links, and no request leaves the server's origin.

Payloads with a NUL character go through `posts.services` (the composer's form refuses them before
the sanitizer sees them); services broadcast from this process through the shared Redis layer.
"""

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from posts import services
from posts.models import Post
from tests.browser.conftest import in_worker
from tests.factories import LiveBlogFactory
from tests.xss_corpus import CORPUS, browser_sample

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

SAMPLE = browser_sample(60)
PAGE_SIZE = 20  # posts.views.PAGE_SIZE: the reader page shows this many, "Load older posts" the rest
LIVE_TIMEOUT_MS = 20_000

# Runs in every frame before the page's scripts (Playwright injects it; the page's CSP does not
# apply to it). Payloads call alert/confirm/prompt/print; parent.alert and top.alert from frames
# land in the top frame's trap.
TRAP = """
(() => {
  window.__xss = [];
  window.__csp = [];
  window.__liveHellos = 0;
  for (const name of ["alert", "confirm", "prompt", "print"]) {
    window[name] = (...args) => {
      let sink = window.__xss;
      try {
        sink = window.top.__xss || sink;
      } catch {}
      sink.push(`${name}(${args.map(String).join(",")}) in ${location.href}`);
    };
  }
  document.addEventListener("securitypolicyviolation", (event) => {
    window.__csp.push(`${event.violatedDirective} ${event.blockedURI} ${event.sample || ""}`);
  }, true);
  // Counts the server's hello frames (one per opened socket): the reader is subscribed.
  window.WebSocket = class extends window.WebSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (message) => {
        try {
          if (JSON.parse(message.data).type === "hello") window.__liveHellos += 1;
        } catch {}
      });
    }
  };
})();
"""

# The post bodies as Chromium built them: anything outside the allow-list, and every link whose
# resolved URL is not http(s)/mailto (HTMLAnchorElement.protocol: the browser's URL parser).
DOM_PROBLEMS = """
() => {
  const allowed = {
    P: [], BR: [], STRONG: [], B: [], EM: [], I: [], UL: [], OL: [], LI: [], BLOCKQUOTE: [],
    A: ["href", "title", "rel"],
  };
  const problems = [];
  for (const article of document.querySelectorAll("#posts > article.post")) {
    const where = article.id;
    const headline = article.querySelector(".post__headline a");
    if (!headline || headline.children.length) problems.push(`${where}: markup in the headline`);
    for (const el of article.querySelectorAll(".post__body *")) {
      const names = allowed[el.tagName];
      if (!names || el.namespaceURI !== "http://www.w3.org/1999/xhtml") {
        problems.push(`${where}: <${el.tagName.toLowerCase()}> ${el.namespaceURI}`);
        continue;
      }
      for (const attr of el.attributes) {
        if (!names.includes(attr.name)) problems.push(`${where}: ${el.tagName} @${attr.name}`);
      }
      const safe = ["http:", "https:", "mailto:"];
      if (el.tagName === "A" && el.hasAttribute("href") && !safe.includes(el.protocol)) {
        problems.push(`${where}: link to ${el.protocol} ${el.getAttribute("href")}`);
      }
    }
  }
  return problems;
}
"""

# Inline script injected from outside: runs only when the page's CSP is bypassed.
CSP_CANARY = """
() => {
  window.__canary = false;
  const script = document.createElement("script");
  script.textContent = "window.__canary = true";
  document.body.append(script);
  return window.__canary;
}
"""


def headline(number: int, category: str, payload: str) -> str:
    # The payload goes into the headline too (escaped by the templates, JSON-LD, the page title),
    # without control characters, which a form's CharField refuses.
    printable = "".join(ch for ch in payload if ch.isprintable() or ch == " ")
    return f"#{number:02d} {category}: {printable}"[:250]


class Reader:
    """A reader page with the traps installed, and what it did that it should not have."""

    def __init__(self, context, server, blog):
        self.server = server
        self.blog = blog
        self.page: Page = context.new_page()
        self.page.set_default_timeout(5_000)
        self.page.add_init_script(TRAP)
        self.dialogs: list[str] = []
        self.foreign_requests: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.route("**/*", self._route)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def _route(self, route) -> None:
        url = route.request.url
        if url.startswith(self.server.url + "/"):
            route.continue_()
        else:
            self.foreign_requests.append(f"{route.request.resource_type} {url}")
            route.abort()

    @property
    def url(self) -> str:
        return self.server.url + self.blog.get_absolute_url()

    def open(self) -> "Reader":
        response = self.page.goto(self.url)
        assert response is not None and response.ok
        self.csp_header = response.headers.get("content-security-policy", "")
        self.page.wait_for_function("() => window.__liveHellos >= 1")
        self.page.evaluate("window.__marker = 1")  # still there later: nothing navigated or reloaded
        return self

    def posts(self):
        return self.page.locator("#posts > article.post")

    def wait_for_live_posts(self, count: int) -> None:
        """Wait until `count` posts are on the page; show held-back ones if the live client held them."""
        new_updates = self.page.locator("#new-updates")
        self.page.wait_for_function(
            """(count) => document.querySelectorAll("#posts > article.post").length >= count
                 || !document.getElementById("new-updates").hidden""",
            arg=count,
            timeout=LIVE_TIMEOUT_MS,
        )
        if new_updates.is_visible():
            expect(new_updates).to_have_text(
                new_updates.get_attribute("data-many").replace("%(n)s", str(count))
            )
            new_updates.click()
        expect(self.posts()).to_have_count(count, timeout=LIVE_TIMEOUT_MS)

    def load_all_older(self, count: int) -> None:
        expect(self.posts()).to_have_count(min(count, PAGE_SIZE))
        older = self.page.locator("#posts .load-older a")
        for shown in range(PAGE_SIZE, count, PAGE_SIZE):
            older.click()
            expect(self.posts()).to_have_count(min(count, shown + PAGE_SIZE))
        expect(older).to_have_count(0)

    def assert_nothing_ran(self) -> None:
        page = self.page
        page.wait_for_timeout(300)  # late onload/onerror handlers, meta refreshes, animations
        assert page.evaluate("window.__xss") == []
        assert page.evaluate("window.__csp") == []
        assert self.dialogs == []
        assert self.foreign_requests == []
        assert page.evaluate(DOM_PROBLEMS) == []
        assert page.url == self.url
        assert page.evaluate("window.__marker") == 1, "the page navigated or reloaded"
        assert len(page.frames) == 1, [frame.url for frame in page.frames]


@pytest.fixture(params=["csp-enforced", "csp-bypassed"])
def reader_context(request, new_context):
    return request.param, new_context(bypass_csp=request.param == "csp-bypassed")


def assert_csp_mode(reader: Reader, mode: str) -> None:
    """The mode is real: with the CSP on, the header is there and an inline script is blocked."""
    assert "script-src" in reader.csp_header
    assert reader.page.evaluate(CSP_CANARY) is (mode == "csp-bypassed")


def publish_through_composer(editor: Page, server, blog) -> list[tuple[int, str, str]]:
    """POST the sample to the composer as its form does (no htmx: a redirect back on success)."""
    url = server.url + reverse("admin:posts_liveblog_composer", args=[blog.pk])
    editor.goto(url)
    token = editor.locator("#composer-form input[name=csrfmiddlewaretoken]").input_value()
    through_services = []
    for number, (category, payload) in enumerate(SAMPLE):
        if "\x00" in payload:
            through_services.append((number, category, payload))
            continue
        response = editor.request.post(
            url,
            multipart={
                "csrfmiddlewaretoken": token,
                "headline": headline(number, category, payload),
                "body": payload,
            },
            headers={"Referer": url},
        )
        assert response.ok and response.url == url, (number, payload, response.status)
    return through_services


def test_sample_covers_every_category():
    assert len(SAMPLE) == 60
    assert len({payload for _category, payload in SAMPLE}) == 60
    assert {category for category, _payload in SAMPLE} == set(CORPUS)


def test_payloads_published_in_the_composer_do_not_run_for_readers(
    reader_context, daphne_server, server_editor_page
):
    mode, context = reader_context
    blog = LiveBlogFactory()
    live = Reader(context, daphne_server, blog).open()
    expect(live.posts()).to_have_count(0)

    rest = publish_through_composer(server_editor_page, daphne_server, blog)
    for number, category, payload in rest:
        in_worker(
            services.publish_post,
            Post(live_blog=blog, headline=headline(number, category, payload), body=payload),
        )
    assert Post.objects.filter(live_blog=blog).count() == len(SAMPLE)
    assert len(rest) < 5, "most of the sample must go through the composer's HTTP path"

    # (1) Arrived live over the WebSocket, inserted by the live client.
    live.wait_for_live_posts(len(SAMPLE))
    live.assert_nothing_ran()

    # (2) Rendered by the server on load; the older ones swapped in by htmx.
    loaded = Reader(context, daphne_server, blog).open()
    loaded.load_all_older(len(SAMPLE))
    loaded.assert_nothing_ran()
    for pk in Post.objects.filter(live_blog=blog).values_list("pk", flat=True):
        expect(loaded.page.locator(f"#posts > article#post-{pk}")).to_have_count(1)

    assert_csp_mode(loaded, mode)


def test_payloads_published_and_edited_through_services_do_not_run_for_readers(reader_context, daphne_server):
    mode, context = reader_context
    blog = LiveBlogFactory()
    reader = Reader(context, daphne_server, blog).open()

    def publish_all():
        return [
            services.publish_post(
                Post(live_blog=blog, headline=headline(number, category, payload), body=payload)
            )
            for number, (category, payload) in enumerate(SAMPLE)
        ]

    posts = in_worker(publish_all)
    reader.wait_for_live_posts(len(SAMPLE))
    reader.assert_nothing_ran()

    # Each post edited to the next payload: the live client replaces the article in place.
    def edit_all():
        for post, (_category, payload) in zip(posts, SAMPLE[1:] + SAMPLE[:1], strict=True):
            post.headline = f"{post.headline[:200]} (bearbeitet)"  # edited even if both bodies clean to ""
            post.body = payload
            services.update_post(post)

    in_worker(edit_all)
    expect(reader.page.locator("#posts > article.post .post__edited")).to_have_count(
        len(SAMPLE), timeout=LIVE_TIMEOUT_MS
    )
    expect(reader.posts()).to_have_count(len(SAMPLE))
    reader.assert_nothing_ran()

    assert_csp_mode(reader, mode)
