"""The composer in a real browser: rich text, htmx swaps in place, CSP, the post row's buttons.

The client-side half of what tests/test_admin_desk.py checks through the test client: that the
ProseMirror editor, htmx and the admin's scripts load under the strict CSP and work together.
"""

import warnings
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from django.urls import reverse
from playwright.sync_api import Page, expect

from posts import services
from posts.models import Event, Post
from tests.factories import LiveBlogFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SUBMIT = "#composer-form button[type=submit]"  # not a bare button[type=submit]: the header's logout is one
EDITOR = "#composer-form .ProseMirror"

# Collects CSP violations from the first script on; a listener added after load would miss them.
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
}, true);
"""


def in_worker(fn, *args, **kwargs):
    """Run ORM code that broadcasts on commit (async_to_sync) off the thread Playwright's loop runs in."""

    def call():
        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result()


def open_composer(page: Page, live_server, blog) -> None:
    page.goto(live_server.url + reverse("admin:posts_liveblog_composer", args=[blog.pk]))
    expect(page.locator(EDITOR)).to_be_visible()
    # Set once per page load: still there after an action means htmx swapped without a reload.
    page.evaluate("window.__marker = 1")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__marker") == 1, "the page was reloaded"


def failed_requests(browser_log) -> list[str]:
    # Chromium asks for /favicon.ico on its own; the admin has none.
    return [line for line in browser_log["bad_responses"] if not line.endswith("/favicon.ico")]


def test_editor_publishes_rich_text_from_the_composer_without_reload(
    logged_in_page, live_server, editor_user, browser_log
):
    page = logged_in_page
    blog = LiveBlogFactory()
    open_composer(page, live_server, blog)

    headline = "Erste Böen erreichen die Küste"
    page.locator("#id_headline").fill(headline)
    page.locator(EDITOR).click()
    page.keyboard.type("Der Wind frischt auf.")
    # Select "frischt": from the end, back over " auf.", then extend the selection over the word.
    for _ in " auf.":
        page.keyboard.press("ArrowLeft")
    for _ in "frischt":
        page.keyboard.press("Shift+ArrowLeft")
    page.locator("#composer-form .prose-menubar__button[data-name=bold]").click()
    expect(page.locator(f"{EDITOR} strong")).to_have_text("frischt")
    expect(page.locator(EDITOR)).to_have_text("Der Wind frischt auf.")
    page.locator(SUBMIT).click()

    expect(page.locator("#composer-status")).to_contain_text(headline)
    post = Post.objects.get(live_blog=blog)
    expect(page.locator(f"#composer-posts #desk-post-{post.pk}")).to_contain_text(headline)
    # A fresh, empty form with a working editor, and the cursor back in the headline.
    expect(page.locator("#id_headline")).to_have_value("")
    expect(page.locator(EDITOR)).to_have_count(1)
    expect(page.locator(EDITOR)).to_have_text("")
    expect(page.locator("#id_headline")).to_be_focused()
    assert_not_reloaded(page)

    assert post.headline == headline
    assert post.body == "<p>Der Wind <strong>frischt</strong> auf.</p>"
    assert Event.objects.filter(
        live_blog=blog, post=post, kind=Event.Kind.POST_CREATED, actor=editor_user
    ).exists()
    assert failed_requests(browser_log) == []
    assert browser_log["page_errors"] == []


def test_failed_publish_keeps_the_typed_text(logged_in_page, live_server):
    page = logged_in_page
    blog = LiveBlogFactory()
    open_composer(page, live_server, blog)

    # Whitespace passes the browser's `required` check; the server strips it and refuses.
    page.locator("#id_headline").fill("   ")
    page.locator(EDITOR).click()
    page.keyboard.type("Ein langer, mühsam getippter Text")
    page.locator(SUBMIT).click()

    error = page.locator("#composer-form .desk__field--headline #id_headline_error")
    expect(error).to_be_visible()
    expect(page.locator(EDITOR)).to_have_count(1)
    expect(page.locator(EDITOR)).to_have_text("Ein langer, mühsam getippter Text")
    expect(page.locator("#composer-status")).to_have_text("")
    expect(page.locator("#composer-posts .desk__empty")).to_be_visible()
    assert_not_reloaded(page)
    assert not Post.objects.exists()
    assert not Event.objects.filter(live_blog=blog).exists()


def test_composer_produces_no_script_csp_violations(logged_in_page, live_server, browser_log):
    page = logged_in_page
    page.add_init_script(CSP_LISTENER)
    blog = LiveBlogFactory()
    open_composer(page, live_server, blog)

    page.locator("#id_headline").fill("Lage ruhig")
    page.locator(EDITOR).click()
    page.keyboard.type("Keine neuen Meldungen.")
    page.locator(SUBMIT).click()
    post_row = page.locator("#composer-posts .desk__post")
    expect(post_row).to_have_count(1)
    expect(post_row).to_contain_text("Lage ruhig")
    # The fresh form's editor is started by composer.js after the swap: let that happen too.
    expect(page.locator(EDITOR)).to_have_count(1)
    assert_not_reloaded(page)

    violations = page.evaluate("window.__cspViolations")
    script_violations = [v for v in violations if v.startswith("script-src")]
    assert script_violations == []
    # Known open item: third-party widgets (tiptap's injected <style>, htmx's indicator style)
    # apply inline styles that `style-src 'self'` blocks. Recorded here, deliberately not failed
    # on, until the policy or the widgets' configuration deals with them.
    style_violations = [v for v in violations if v.startswith("style-src")]
    if style_violations:
        warnings.warn(f"known style-src CSP violations: {style_violations}", stacklevel=1)
    assert [v for v in violations if v not in style_violations] == []

    assert browser_log["page_errors"] == []
    console_errors = [
        text
        for text in browser_log["console_errors"]
        if "Content Security Policy directive 'style-src" not in text
        # The favicon's 404 (checked by URL in failed_requests) is also a console error.
        and not text.startswith("Failed to load resource: the server responded with a status of 404")
    ]
    assert console_errors == []
    assert failed_requests(browser_log) == []


def test_important_pin_and_delete_buttons_update_the_list_in_place(logged_in_page, live_server, editor_user):
    page = logged_in_page
    blog = LiveBlogFactory()
    post = in_worker(
        services.publish_post,
        Post(live_blog=blog, headline="Straße gesperrt", body="<p>Umleitung.</p>"),
        actor=editor_user,
    )
    open_composer(page, live_server, blog)
    row = page.locator(f"#composer-posts #desk-post-{post.pk}")
    expect(row).to_be_visible()

    def click(action: str) -> None:
        row.locator(f"form[action$='/{post.pk}/{action}/'] button").click()

    click("important")
    expect(row.locator(".badge--important")).to_be_visible()
    expect(row.locator("form[action$='/unimportant/']")).to_be_visible()
    post.refresh_from_db()
    assert post.is_important and not post.is_pinned

    click("pin")
    expect(row.locator(".badge--pinned")).to_be_visible()
    expect(row.locator("form[action$='/unpin/']")).to_be_visible()
    post.refresh_from_db()
    assert post.is_important and post.is_pinned

    dialogs = []

    def accept(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    click("delete")
    expect(row.locator(".badge--deleted")).to_be_visible()
    expect(row.locator(".desk__actions")).to_have_count(0)
    assert len(dialogs) == 1
    post.refresh_from_db()
    assert post.is_deleted and not post.is_pinned  # deleting also unpins
    assert_not_reloaded(page)

    kinds = list(Event.objects.filter(live_blog=blog).values_list("kind", flat=True))
    assert kinds == [
        Event.Kind.POST_CREATED,
        Event.Kind.IMPORTANT_CHANGED,
        Event.Kind.PINNED_CHANGED,
        Event.Kind.POST_DELETED,
    ]
