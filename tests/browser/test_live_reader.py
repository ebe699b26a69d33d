"""The reader page in a real browser, against Daphne: live posts, edits, pause, scroll, reconnect.

The client half of tests/test_live_updates.py and tests/test_catch_up.py: static/js/live/ on the
page, a real WebSocket to live/consumers.py, the catch-up endpoint after a restart. Daphne runs in
a child process (`daphne_server` in conftest.py) on the test database. The first test publishes
through the admin composer served by that same Daphne; the others publish through
`posts.services` in this process, whose broadcast reaches Daphne through a shared Redis channel
layer (hence `redis`).
"""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from posts import services
from posts.models import Post
from tests.browser.conftest import in_worker
from tests.factories import LiveBlogFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SUBMIT = "#composer-form button[type=submit]"  # not a bare button[type=submit]: the header's logout is one
EDITOR = "#composer-form .ProseMirror"
# The client backs off with full jitter from 1 s and polls every 10 s after two failed connects:
# after a restart it has caught up well within this.
RECONNECT_TIMEOUT_MS = 15_000
# The longest single backoff delay (BACKOFF_CAP in static/js/live/feed.js) plus a margin.
BACKOFF_CAP_MS = 32_000

# Counts the server's hello frames (one per opened socket) before the client sees them; the WebSocket
# stays the browser's own. Injected by Playwright, so the page's CSP does not apply to it.
FRAME_RECORDER = """
window.__liveHellos = 0;
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
"""


def publish(blog, headline: str, **fields) -> Post:
    return in_worker(
        services.publish_post, Post(live_blog=blog, headline=headline, body="<p>Text.</p>", **fields)
    )


def open_reader(page: Page, server, blog, *, hellos: int = 1) -> None:
    """Open the reader page and wait until its socket is in the blog's group (the hello comes after)."""
    page.set_default_timeout(5_000)
    page.add_init_script(FRAME_RECORDER)
    page.goto(server.url + blog.get_absolute_url())
    wait_for_hellos(page, hellos)
    # Set once per page load: still there later means nothing reloaded the page.
    page.evaluate("window.__marker = 1")


def wait_for_hellos(page: Page, count: int, timeout: float = 5_000) -> None:
    page.wait_for_function("(count) => window.__liveHellos >= count", arg=count, timeout=timeout)


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__marker") == 1, "the page was reloaded"


def article(page: Page, post: Post):
    return page.locator(f"article#post-{post.pk}")


def test_post_published_in_the_composer_appears_for_a_reader_within_two_seconds(
    page, daphne_server, server_editor_page
):
    blog = LiveBlogFactory()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    open_reader(page, daphne_server, blog)
    expect(page.locator("#posts article.post")).to_have_count(0)
    expect(page.locator("#posts > p.empty")).to_be_visible()

    editor = server_editor_page
    editor.goto(daphne_server.url + reverse("admin:posts_liveblog_composer", args=[blog.pk]))
    expect(editor.locator(EDITOR)).to_be_visible()
    headline = "Wahllokale schließen"
    editor.locator("#id_headline").fill(headline)
    editor.locator(EDITOR).click()
    editor.keyboard.type("Die ersten Prognosen kommen um 18 Uhr.")
    editor.locator(SUBMIT).click()

    # Pushed over the socket: no reload, no polling (the client polls only after failed connects).
    shown = page.locator("#posts > article.post", has_text=headline)
    expect(shown).to_be_visible(timeout=2000)
    post = Post.objects.get(live_blog=blog)
    expect(shown).to_have_id(f"post-{post.pk}")
    expect(shown.locator(".post__body")).to_have_text("Die ersten Prognosen kommen um 18 Uhr.")
    expect(page.locator("#posts article.post")).to_have_count(1)
    expect(page.locator("#posts > p.empty")).to_be_hidden()  # "No updates yet." is no longer true
    expect(editor.locator("#composer-status")).to_contain_text(headline)
    assert_not_reloaded(page)
    assert errors == []


@pytest.mark.redis
def test_edit_changes_the_post_in_place_and_delete_removes_it(page, daphne_server):
    blog = LiveBlogFactory()
    older = publish(blog, "Erste Zahlen")
    newer = publish(blog, "Zweite Hochrechnung")
    open_reader(page, daphne_server, blog)
    posts = page.locator("#posts > article.post")
    expect(posts).to_have_count(2)
    expect(article(page, older).locator(".post__edited")).to_have_count(0)

    older.headline = "Erste Zahlen (korrigiert)"
    older.body = "<p>Neue Quelle.</p>"
    in_worker(services.update_post, older)

    expect(article(page, older).locator(".post__headline")).to_have_text("Erste Zahlen (korrigiert)")
    expect(article(page, older).locator(".post__body")).to_have_text("Neue Quelle.")
    expect(article(page, older).locator(".post__edited")).to_be_visible()
    # In place: still one of it, still below the newer post, not pushed to the top as new.
    expect(posts).to_have_count(2)
    expect(posts.nth(0)).to_have_id(f"post-{newer.pk}")
    expect(posts.nth(1)).to_have_id(f"post-{older.pk}")
    expect(page.locator("#new-updates")).to_be_hidden()

    in_worker(services.delete_post, newer)

    expect(article(page, newer)).to_have_count(0)
    expect(posts).to_have_count(1)
    expect(posts.nth(0)).to_have_id(f"post-{older.pk}")
    assert_not_reloaded(page)


@pytest.mark.redis
def test_important_post_appears_in_important_updates(page, daphne_server):
    blog = LiveBlogFactory()
    first = publish(blog, "Straßensperrung aufgehoben")
    open_reader(page, daphne_server, blog)
    important = page.locator("#important-updates li[data-post]")
    expect(important).to_have_count(0)
    expect(page.locator("#important-updates li.empty")).to_be_visible()
    announcer = page.locator("#live-announcer")
    expect(announcer).to_have_attribute("aria-live", "polite")
    expect(announcer).to_have_text("")

    in_worker(services.set_important, first, True)

    expect(important).to_have_count(1)
    expect(important.nth(0)).to_have_attribute("data-post", str(first.pk))
    expect(important.nth(0).locator("a")).to_have_text(first.headline)
    expect(important.nth(0).locator("a")).to_have_attribute("href", f"#post-{first.pk}")
    expect(page.locator("#important-updates li.empty")).to_be_hidden()
    expect(article(page, first)).to_have_class(re.compile(r"\bpost--important\b"))
    expect(announcer).to_have_text(f"{announcer.get_attribute('data-important')} {first.headline}")

    # A new post that is important from the start joins the list above the older one.
    second = publish(blog, "Evakuierung angeordnet", is_important=True)

    expect(important).to_have_count(2)
    expect(important.nth(0)).to_have_attribute("data-post", str(second.pk))
    expect(important.nth(1)).to_have_attribute("data-post", str(first.pk))
    expect(article(page, second)).to_be_visible()
    expect(announcer).to_have_text(f"{announcer.get_attribute('data-important')} {second.headline}")

    in_worker(services.set_important, first, False)

    expect(important).to_have_count(1)
    expect(important.nth(0)).to_have_attribute("data-post", str(second.pk))
    expect(article(page, first)).not_to_have_class(re.compile(r"\bpost--important\b"))
    assert_not_reloaded(page)


@pytest.mark.redis
def test_scrolled_down_reader_gets_a_new_updates_button_instead(page, daphne_server):
    blog = LiveBlogFactory()

    def publish_many():
        return [
            services.publish_post(Post(live_blog=blog, headline=f"Meldung {n}", body="<p>Text.</p>" * 3))
            for n in range(25)
        ]

    in_worker(publish_many)
    open_reader(page, daphne_server, blog)
    base_title = page.title()
    posts = page.locator("#posts > article.post")
    expect(posts).to_have_count(20)  # one page; the rest behind "Load older posts"
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    # Far enough down that the live client holds new posts back (below the top of the list).
    assert page.evaluate("window.scrollY > document.getElementById('posts').offsetTop + 40")

    post = publish(blog, "Neue Lage")

    button = page.locator("#new-updates")
    expect(button).to_be_visible()
    expect(button).to_have_text(re.compile(r"\b1\b"))
    expect(button).to_have_text(button.get_attribute("data-one"))
    expect(page).to_have_title(re.compile(r"^\(1\) "))
    expect(page).to_have_title(f"(1) {base_title}")
    # Held back, not inserted under the reader.
    expect(article(page, post)).to_have_count(0)
    expect(posts).to_have_count(20)

    button.click()

    expect(posts.first).to_have_id(f"post-{post.pk}")
    expect(posts).to_have_count(21)
    expect(button).to_be_hidden()
    expect(page).to_have_title(base_title)
    assert_not_reloaded(page)


@pytest.mark.redis
def test_reader_catches_up_after_the_server_restarts(page, daphne_server):
    blog = LiveBlogFactory()
    open_reader(page, daphne_server, blog)
    events_path = reverse("liveblog-events", kwargs={"slug": blog.slug})
    answered = []  # catch-ups the server answered, from the restart on
    page.on("response", lambda response: events_path in response.url and answered.append(response.status))

    daphne_server.stop()  # SIGTERM: the sockets close, the client starts backing off
    expect(page.locator("#live-connection")).to_be_visible()
    missed = [publish(blog, f"Während der Pause {n}") for n in range(3)]  # in the log, pushed to no one
    daphne_server.start()  # the same port

    for post in missed:
        expect(article(page, post)).to_have_count(1, timeout=RECONNECT_TIMEOUT_MS)
    # Catch-up may come from a reconnect or from polling: either way the socket is back soon.
    wait_for_hellos(page, 2, timeout=BACKOFF_CAP_MS)
    expect(page.locator("#live-connection")).to_be_hidden()
    posts = page.locator("#posts > article.post")
    expect(posts).to_have_count(3)
    assert [posts.nth(i).get_attribute("id") for i in range(3)] == [
        f"post-{post.pk}" for post in reversed(missed)
    ]

    # One catch-up for the reconnect: from the hello, or from a poll that found the server back
    # first (then the socket reconnects at once and its hello finds nothing missing).
    assert answered == [200]

    # And the socket pushes again: no duplicates of what was caught up.
    after = publish(blog, "Wieder live")
    expect(article(page, after)).to_have_count(1)
    expect(posts).to_have_count(4)
    for post in missed:
        expect(article(page, post)).to_have_count(1)
    assert_not_reloaded(page)


@pytest.mark.redis
def test_pause_holds_back_new_posts_until_resumed(page, daphne_server):
    blog = LiveBlogFactory()
    open_reader(page, daphne_server, blog)
    base_title = page.title()
    toggle = page.locator("#live-toggle")
    expect(toggle).to_be_visible()  # the live client (ui.js) shows it
    expect(toggle).to_have_attribute("aria-pressed", "false")
    expect(toggle).to_have_text(toggle.get_attribute("data-label-pause"))

    toggle.click()

    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(toggle).to_have_text(toggle.get_attribute("data-label-resume"))
    first = publish(blog, "Erste Meldung in der Pause")
    second = publish(blog, "Zweite Meldung in der Pause")

    button = page.locator("#new-updates")
    expect(button).to_be_visible()
    expect(button).to_have_text(button.get_attribute("data-many").replace("%(n)s", "2"))
    expect(page).to_have_title(f"(2) {base_title}")
    expect(article(page, first)).to_have_count(0)
    expect(article(page, second)).to_have_count(0)

    toggle.click()

    expect(toggle).to_have_attribute("aria-pressed", "false")
    posts = page.locator("#posts > article.post")
    expect(posts).to_have_count(2)
    expect(posts.nth(0)).to_have_id(f"post-{second.pk}")
    expect(posts.nth(1)).to_have_id(f"post-{first.pk}")
    expect(button).to_be_hidden()
    expect(page).to_have_title(base_title)

    # Live again: the next post goes straight in.
    third = publish(blog, "Nach der Pause")
    expect(posts.nth(0)).to_have_id(f"post-{third.pk}")
    expect(button).to_be_hidden()
    assert_not_reloaded(page)
