"""The composer in a real browser: rich text, htmx swaps in place, CSP, the post row's buttons.

The client-side half of what tests/test_admin_desk.py checks through the test client: that the
ProseMirror editor, htmx and the admin's scripts load under the strict CSP and work together, and
that a publish the server does not take is reported as such.
"""

import pytest
from django.urls import reverse
from django.utils import translation
from playwright.sync_api import Page, Route, expect

from posts import services
from posts.models import Event, Post
from tests.browser.conftest import in_worker
from tests.factories import LiveBlogFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SUBMIT = "#composer-form button[type=submit]"  # not a bare button[type=submit]: the header's logout is one
EDITOR = "#composer-form .ProseMirror"

# Reports every CSP violation, of any directive, from the first script on: a listener added after
# load would miss those during parsing. Capture phase: the event is fired at the offending element.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__reportCspViolation(
    `${e.violatedDirective} ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber} ${e.sample}`.trim()
  );
}, true);
"""
SERVER_ERROR = "Not saved: the server could not store the update. Your text is still here — try again."
NETWORK_ERROR = "Not saved: the server could not be reached. Your text is still here — try again."
ACTION_ERROR = "Not changed: the server could not store the change. Try again."


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


def record_csp_violations(page: Page) -> list[str]:
    """The CSP violations this page reports from now on, on every page it loads.

    Each report goes to Python as it happens, so a navigation loses none. Call before the first
    `goto` whose page should be watched.
    """
    violations: list[str] = []

    def report(violation: str) -> None:
        violations.append(violation)

    page.expose_function("__reportCspViolation", report)
    page.add_init_script(CSP_LISTENER)
    return violations


def csp_console_errors(browser_log) -> list[str]:
    # Chromium also logs each blocked inline style or script: a second witness to the listener.
    return [text for text in browser_log["console_errors"] if "Content Security Policy" in text]


def assert_editor_styles_from_static_css(page: Page) -> None:
    """Tiptap's base styles apply, from static/css/prose-editor.css, with no <style> element."""
    assert page.locator("style").count() == 0
    white_space = page.locator(".ProseMirror").first.evaluate("(el) => getComputedStyle(el).whiteSpace")
    assert white_space == "break-spaces"  # from that file alone


def next_frames(page: Page) -> None:
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")


def toolbar(page: Page, scope: str, name: str) -> None:
    """Click the editor's toolbar button `name`, and let the editor take the focus back.

    The button's command refocuses the editor a frame later and puts ProseMirror's selection back
    into the page then: a key pressed before that would act on the old selection.
    """
    next_frames(page)  # ProseMirror has read the selection the keyboard made
    page.locator(f"{scope} .prose-menubar__button[data-name={name}]").click()
    next_frames(page)


def cursor_to_end(page: Page, editor) -> None:
    """Put the cursor at the end of the text, as Ctrl+End does, once ProseMirror has seen it move.

    ProseMirror learns of a moved cursor from the (asynchronous) selectionchange event; a key
    pressed before that would act on the old selection, as a person typing never does.
    """
    next_frames(page)
    editor.press("Control+End")
    next_frames(page)


def select_back(page: Page, text: str) -> None:
    """Select `text`, which ends right before the cursor."""
    for _ in text:
        page.keyboard.press("Shift+ArrowLeft")


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
    toolbar(page, "#composer-form", "bold")
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


def test_composer_and_its_editor_produce_no_csp_violations_while_editors_work(
    logged_in_page, live_server, editor_user, browser_log
):
    page = logged_in_page
    violations = record_csp_violations(page)
    blog = LiveBlogFactory()
    open_composer(page, live_server, blog)
    assert_editor_styles_from_static_css(page)

    # Write: bold, a link, a quote.
    page.locator("#id_headline").fill("Sturmwarnung")
    page.locator(EDITOR).click()
    page.keyboard.type("Der Wind frischt auf.")
    for _ in " auf.":
        page.keyboard.press("ArrowLeft")
    select_back(page, "frischt")
    toolbar(page, "#composer-form", "bold")
    expect(page.locator(f"{EDITOR} strong")).to_have_text("frischt")
    cursor_to_end(page, page.locator(EDITOR))
    page.keyboard.press("Enter")
    page.keyboard.type("Mehr beim DWD")
    select_back(page, "DWD")
    toolbar(page, "#composer-form", "link")
    dialog = page.locator("dialog.prose-editor-dialog[open]")
    dialog.locator("input[name=href]").fill("https://www.dwd.de/")
    dialog.locator("button[type=submit]").click()
    expect(dialog).to_have_count(0)
    expect(page.locator(f"{EDITOR} a[href='https://www.dwd.de/']")).to_have_text("DWD")
    cursor_to_end(page, page.locator(EDITOR))
    page.keyboard.press("Enter")
    page.keyboard.type("Bleiben Sie drinnen.")
    toolbar(page, "#composer-form", "blockquote")
    expect(page.locator(f"{EDITOR} blockquote")).to_have_text("Bleiben Sie drinnen.")
    expect(page.locator(f"{EDITOR} p")).to_have_text(
        ["Der Wind frischt auf.", "Mehr beim DWD", "Bleiben Sie drinnen."]
    )

    # Publish: the post appears in the list, and the fresh form's editor starts after the swap.
    page.locator(SUBMIT).click()
    post_row = page.locator("#composer-posts .desk__post")
    expect(post_row).to_have_count(1)
    expect(post_row).to_contain_text("Sturmwarnung")
    expect(page.locator(EDITOR)).to_have_count(1)
    expect(page.locator(EDITOR)).to_have_text("")
    assert_not_reloaded(page)
    post = Post.objects.get(live_blog=blog)
    assert "<strong>frischt</strong>" in post.body
    assert 'href="https://www.dwd.de/"' in post.body
    assert "<blockquote><p>Bleiben Sie drinnen.</p></blockquote>" in post.body

    # Mark it important, in place.
    post_row.locator(f"form[action$='/{post.pk}/important/'] button").click()
    expect(post_row.locator(".badge--important")).to_be_visible()

    # Edit it on the admin's change form, whose editor is the same.
    post_row.get_by_role("link", name="Bearbeiten").click()
    expect(page).to_have_url(live_server.url + reverse("admin:posts_post_change", args=[post.pk]))
    body = page.locator(".field-body .ProseMirror")
    expect(body).to_contain_text("Bleiben Sie drinnen.")
    assert_editor_styles_from_static_css(page)
    page.locator("#id_headline").fill("Sturmwarnung aufgehoben")
    body.click()
    cursor_to_end(page, body)
    page.keyboard.type(" Nachtrag.")
    page.locator("input[name=_save]").click()
    expect(page.locator(".messagelist .success")).to_be_visible()
    post.refresh_from_db()
    assert post.headline == "Sturmwarnung aufgehoben"
    assert "Nachtrag." in post.body
    assert post.is_important

    open_composer(page, live_server, blog)
    expect(page.locator(f"#composer-posts #desk-post-{post.pk}")).to_contain_text("Sturmwarnung aufgehoben")

    assert violations == []
    assert csp_console_errors(browser_log) == []
    assert browser_log["page_errors"] == []
    assert failed_requests(browser_log) == []


def test_publish_refused_by_the_server_keeps_the_text_and_says_so(
    logged_in_page, live_server, editor_user, browser_log
):
    page = logged_in_page
    blog = LiveBlogFactory()
    open_composer(page, live_server, blog)
    composer_url = live_server.url + reverse("admin:posts_liveblog_composer", args=[blog.pk])
    with translation.override("de"):  # the browser asks for German
        server_error, network_error = translation.gettext(SERVER_ERROR), translation.gettext(NETWORK_ERROR)
    assert server_error != SERVER_ERROR and network_error != NETWORK_ERROR  # translated

    # A publish before, so that a stale "Published: …" could mislead.
    page.locator("#id_headline").fill("Erste Meldung")
    page.locator(SUBMIT).click()
    expect(page.locator("#composer-status")).to_contain_text("Erste Meldung")

    page.locator("#id_headline").fill("Pegel steigt")
    page.locator(EDITOR).click()
    page.keyboard.type("Ein langer, mühsam getippter Text")
    error = page.locator("#composer-error")
    expect(error).to_be_hidden()

    def unavailable(route: Route) -> None:
        # The database is down: Django answers 503 (or 500) instead of the form.
        if route.request.method == "POST":
            route.fulfill(status=503, content_type="text/html", body="<h1>Service Unavailable</h1>")
        else:
            route.continue_()

    page.route(composer_url, unavailable)
    page.locator(SUBMIT).click()
    expect(error).to_be_visible()
    expect(error).to_have_text(server_error)
    expect(page.locator("#composer-status")).to_have_text("")
    expect(page.locator("#id_headline")).to_have_value("Pegel steigt")
    expect(page.locator(EDITOR)).to_have_text("Ein langer, mühsam getippter Text")
    expect(page.locator(SUBMIT)).to_be_enabled()
    assert_not_reloaded(page)
    page.unroute(composer_url)

    # The network fails: the same, with what happened.
    page.route(composer_url, lambda route: route.abort("internetdisconnected"))
    page.locator(EDITOR).click()
    page.keyboard.press("Control+Enter")
    expect(error).to_have_text(network_error)
    expect(page.locator(EDITOR)).to_have_text("Ein langer, mühsam getippter Text")
    page.unroute(composer_url)
    assert list(Post.objects.filter(live_blog=blog).values_list("headline", flat=True)) == ["Erste Meldung"]

    # Trying again once the server is back publishes, and the note goes away.
    page.locator(SUBMIT).click()
    expect(page.locator("#composer-status")).to_contain_text("Pegel steigt")
    expect(error).to_be_hidden()
    post = Post.objects.get(live_blog=blog, headline="Pegel steigt")
    assert post.body == "<p>Ein langer, mühsam getippter Text</p>"
    expect(page.locator(f"#composer-posts #desk-post-{post.pk}")).to_be_visible()
    expect(page.locator(EDITOR)).to_have_text("")
    assert_not_reloaded(page)
    assert browser_log["page_errors"] == []


def test_a_post_button_refused_by_the_server_says_so_and_changes_nothing(
    logged_in_page, live_server, editor_user, browser_log
):
    page = logged_in_page
    blog = LiveBlogFactory()
    post = services.publish_post(Post(live_blog=blog, headline="Pegelstand"))
    open_composer(page, live_server, blog)
    with translation.override("de"):
        action_error = translation.gettext(ACTION_ERROR)
    important_url = live_server.url + reverse(
        "admin:posts_liveblog_composer_action", args=[blog.pk, post.pk, "important"]
    )
    button = page.locator(f"#desk-post-{post.pk} form[action$='/{post.pk}/important/'] button")

    page.route(important_url, lambda route: route.fulfill(status=503, body="Service Unavailable"))
    button.click()
    expect(page.locator("#composer-error")).to_have_text(action_error)
    post.refresh_from_db()
    assert not post.is_important
    page.unroute(important_url)

    button.click()  # the server is back
    expect(page.locator(f"#desk-post-{post.pk} .badge--important")).to_be_visible()
    expect(page.locator("#composer-error")).to_be_hidden()
    assert_not_reloaded(page)
    assert browser_log["page_errors"] == []


@pytest.mark.parametrize(("accept", "language"), [("en", "en"), ("de", "de")], ids=["english", "german"])
def test_save_error_messages_follow_the_editors_language(client, editor, accept, language):
    blog = LiveBlogFactory()
    client.force_login(editor)
    response = client.get(
        reverse("admin:posts_liveblog_composer", args=[blog.pk]), headers={"Accept-Language": accept}
    )
    html = response.content.decode()
    with translation.override(language):
        for message in (SERVER_ERROR, NETWORK_ERROR, ACTION_ERROR):
            assert f'"{translation.gettext(message)}"' in html


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
