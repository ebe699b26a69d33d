"""The editors' desk at speed, in a real browser (issue 6).

Keyboard publishing, the live preview, the draft kept in the browser, Undo after a delete and the
image's preview: the client-side half of tests/test_composer_desk.py.
"""

import io
from datetime import timedelta

import pytest
from django.utils import timezone
from PIL import Image
from playwright.sync_api import Page, expect

from posts import services
from posts.models import Event, Post
from tests.browser.conftest import in_worker
from tests.browser.test_composer import EDITOR, SUBMIT, failed_requests, open_composer
from tests.factories import LiveBlogFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PREVIEW = "#composer-preview"


def draft_in_storage(page: Page, blog) -> str | None:
    return page.evaluate("(key) => localStorage.getItem(key)", f"liveblog:composer-draft:{blog.pk}")


def wait_for_draft(page: Page, blog, *, present: bool) -> None:
    page.wait_for_function(
        "([key, present]) => (localStorage.getItem(key) !== null) === present",
        arg=[f"liveblog:composer-draft:{blog.pk}", present],
        timeout=5_000,
    )


def test_focus_is_in_the_headline_when_the_composer_opens(logged_in_page, live_server):
    page = logged_in_page
    blog = LiveBlogFactory()
    open_composer(page, live_server, blog)
    expect(page.locator("#id_headline")).to_be_focused()
    # Typing straight away lands in the headline.
    page.keyboard.type("Sofort")
    expect(page.locator("#id_headline")).to_have_value("Sofort")


def test_ctrl_enter_publishes_from_the_rich_text_editor(
    logged_in_page, live_server, editor_user, browser_log
):
    page = logged_in_page
    blog = LiveBlogFactory()
    open_composer(page, live_server, blog)

    page.locator("#id_headline").fill("Per Tastatur")
    page.locator(EDITOR).click()
    page.keyboard.type("Ohne Maus veröffentlicht.")
    page.keyboard.press("Control+Enter")

    expect(page.locator("#composer-status")).to_contain_text("Per Tastatur")
    expect(page.locator("#id_headline")).to_have_value("")
    expect(page.locator("#id_headline")).to_be_focused()
    post = Post.objects.get(live_blog=blog)
    expect(page.locator(f"#composer-posts #desk-post-{post.pk}")).to_contain_text("Per Tastatur")
    # The shortcut published; it did not also put a line break into the text first.
    assert post.body == "<p>Ohne Maus veröffentlicht.</p>"

    # From the headline field too, and only once per press.
    page.locator("#id_headline").fill("Zweite Meldung")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#composer-status")).to_contain_text("Zweite Meldung")
    expect(page.locator("#composer-posts .desk__post")).to_have_count(2)
    assert Post.objects.filter(live_blog=blog).count() == 2
    assert Event.objects.filter(live_blog=blog, kind=Event.Kind.POST_CREATED, actor=editor_user).count() == 2
    assert failed_requests(browser_log) == []
    assert browser_log["page_errors"] == []


def test_a_publish_while_the_fresh_form_settles_is_sent_once_it_is_ready(
    logged_in_page, live_server, browser_log
):
    # After a publish htmx swaps in a fresh form but wires it up (and drops the old form's
    # "sending" class from it) only when it settles, 20 ms later, or later on a busy machine. A
    # press in that window used to vanish silently; stretch the window so the press lands in it.
    page = logged_in_page
    blog = LiveBlogFactory()
    open_composer(page, live_server, blog)
    page.evaluate("htmx.config.defaultSettleDelay = 1500")

    page.locator("#id_headline").fill("Erste")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#composer-status")).to_contain_text("Erste")
    expect(page.locator("#composer-form.htmx-settling")).to_have_count(1)
    page.locator("#id_headline").fill("Zweite")
    page.keyboard.press("Control+Enter")
    page.keyboard.press("Control+Enter")  # a second press while it waits sends nothing more

    expect(page.locator("#composer-status")).to_contain_text("Zweite", timeout=10_000)
    # The button too: the browser would otherwise post the unwired form as a whole page.
    composer_url = page.url
    page.evaluate("window.__marker = 1")  # gone if the page is replaced
    expect(page.locator("#composer-form.htmx-settling")).to_have_count(1)
    page.locator("#id_headline").fill("Dritte")
    page.locator(SUBMIT).click()

    expect(page.locator("#composer-status")).to_contain_text("Dritte", timeout=10_000)
    expect(page.locator("#composer-posts .desk__post")).to_have_count(3)
    # A post's own buttons, in the list swapped in with it.
    expect(page.locator("#composer-posts.htmx-settling")).to_have_count(1)
    third = page.locator("#composer-posts .desk__post").filter(has_text="Dritte")
    third.get_by_role("button", name="Wichtig").click()
    expect(page.locator("#composer-posts .desk__post--important")).to_contain_text("Dritte", timeout=10_000)
    assert page.url == composer_url
    assert page.evaluate("window.__marker") == 1, "a form was posted as a whole page"
    assert list(Post.objects.filter(live_blog=blog).order_by("pk").values_list("headline", flat=True)) == [
        "Erste",
        "Zweite",
        "Dritte",
    ]
    assert failed_requests(browser_log) == []
    assert browser_log["page_errors"] == []


def test_preview_shows_the_post_as_readers_will_while_typing(logged_in_page, live_server, browser_log):
    page = logged_in_page
    blog = LiveBlogFactory()
    open_composer(page, live_server, blog)
    expect(page.locator(f"{PREVIEW} .desk__preview-empty")).to_be_visible()

    page.locator("#id_headline").fill("Wahllokale geschlossen")
    page.locator(EDITOR).click()
    page.keyboard.type("Jetzt wird ")
    page.keyboard.press("Control+b")
    page.keyboard.type("gezählt")
    page.keyboard.press("Control+b")
    page.keyboard.type(".")

    article = page.locator(f"{PREVIEW} article.post")
    expect(article.locator(".post__headline")).to_have_text("Wahllokale geschlossen")
    expect(article.locator(".post__body strong")).to_have_text("gezählt")
    expect(article.locator(".post__body")).to_have_text("Jetzt wird gezählt.")

    page.locator("#id_is_important").check()
    expect(article).to_have_class("post post--important")
    assert not Post.objects.exists() and not Event.objects.exists()  # a preview saves nothing
    assert failed_requests(browser_log) == []
    assert browser_log["page_errors"] == []


def test_draft_survives_a_reload_and_is_cleared_after_publishing(logged_in_page, live_server):
    page = logged_in_page
    blog = LiveBlogFactory()
    open_composer(page, live_server, blog)

    page.locator("#id_headline").fill("Noch nicht fertig")
    page.locator(EDITOR).click()
    page.keyboard.type("Ein halber Satz")
    page.locator("#id_source").fill("dpa")
    wait_for_draft(page, blog, present=True)

    page.reload()
    expect(page.locator(EDITOR)).to_be_visible()
    expect(page.locator("#composer-draft")).to_be_visible()
    expect(page.locator("#id_headline")).to_have_value("Noch nicht fertig")
    expect(page.locator("#id_source")).to_have_value("dpa")
    expect(page.locator(EDITOR)).to_have_text("Ein halber Satz")
    # The restored draft is previewed too.
    expect(page.locator(f"{PREVIEW} .post__headline")).to_have_text("Noch nicht fertig")

    page.locator(EDITOR).click()
    page.keyboard.press("End")
    page.keyboard.type(", jetzt ganz.")
    page.locator(SUBMIT).click()
    expect(page.locator("#composer-status")).to_contain_text("Noch nicht fertig")
    post = Post.objects.get(live_blog=blog)
    assert post.body == "<p>Ein halber Satz, jetzt ganz.</p>" and post.source == "dpa"
    wait_for_draft(page, blog, present=False)
    expect(page.locator("#composer-draft")).to_be_hidden()

    page.reload()
    expect(page.locator(EDITOR)).to_be_visible()
    expect(page.locator("#id_headline")).to_have_value("")
    expect(page.locator(EDITOR)).to_have_text("")
    expect(page.locator("#composer-draft")).to_be_hidden()


def test_a_restored_draft_can_be_discarded(logged_in_page, live_server):
    page = logged_in_page
    blog = LiveBlogFactory()
    open_composer(page, live_server, blog)
    page.locator("#id_headline").fill("Verworfen")
    wait_for_draft(page, blog, present=True)

    page.reload()
    expect(page.locator("#id_headline")).to_have_value("Verworfen")
    page.locator("#composer-draft-discard").click()
    expect(page.locator("#composer-draft")).to_be_hidden()
    expect(page.locator("#id_headline")).to_have_value("")
    expect(page.locator("#id_headline")).to_be_focused()
    assert draft_in_storage(page, blog) is None


def test_delete_then_undo_brings_the_post_back(logged_in_page, live_server, editor_user, browser_log):
    page = logged_in_page
    blog = LiveBlogFactory()
    post = in_worker(
        services.publish_post,
        Post(live_blog=blog, headline="Versehentlich gelöscht", body="<p>Text.</p>"),
        actor=editor_user,
    )
    open_composer(page, live_server, blog)
    row = page.locator(f"#composer-posts #desk-post-{post.pk}")
    page.on("dialog", lambda dialog: dialog.accept())

    row.locator(f"form[action$='/{post.pk}/delete/'] button").click()
    expect(row.locator(".badge--deleted")).to_be_visible()
    undo = row.locator(".desk__undo button")
    expect(undo).to_be_visible()
    expect(undo).to_be_focused()  # Enter undoes at once
    post.refresh_from_db()
    assert post.is_deleted

    undo.click()
    expect(row.locator(".badge--deleted")).to_have_count(0)
    expect(row.locator(".desk__undo")).to_have_count(0)
    expect(row.locator(".desk__actions")).to_be_visible()
    post.refresh_from_db()
    assert not post.is_deleted
    kinds = list(Event.objects.filter(live_blog=blog).values_list("kind", flat=True))
    assert kinds == [Event.Kind.POST_CREATED, Event.Kind.POST_DELETED, Event.Kind.POST_UPDATED]
    assert failed_requests(browser_log) == []
    assert browser_log["page_errors"] == []


def test_undo_goes_away_when_its_time_is_up(logged_in_page, live_server, editor_user):
    page = logged_in_page
    blog = LiveBlogFactory()

    def publish_and_delete():
        post = services.publish_post(Post(live_blog=blog, headline="Weg"), actor=editor_user)
        services.delete_post(post)
        # 28 of the 30 seconds are gone: the page offers Undo for about two more.
        Post.objects.filter(pk=post.pk).update(deleted_at=timezone.now() - timedelta(seconds=28))
        return post

    post = in_worker(publish_and_delete)
    open_composer(page, live_server, blog)
    row = page.locator(f"#composer-posts #desk-post-{post.pk}")
    expect(row.locator(".badge--deleted")).to_be_visible()
    expect(row.locator(".desk__undo")).to_have_count(0, timeout=5_000)


def test_chosen_image_is_shown_and_its_description_asked_for(logged_in_page, live_server):
    page = logged_in_page
    blog = LiveBlogFactory()
    open_composer(page, live_server, blog)
    buffer = io.BytesIO()
    Image.new("RGB", (120, 80), (200, 60, 40)).save(buffer, format="PNG")

    page.locator("#id_image_upload").set_input_files(
        {"name": "foto.png", "mimeType": "image/png", "buffer": buffer.getvalue()}
    )
    preview = page.locator("#composer-form img.desk__upload-preview")
    expect(preview).to_be_visible()
    assert preview.get_attribute("src").startswith("blob:")
    assert preview.evaluate("(img) => img.naturalWidth") == 120  # the chosen file, decoded
    alt = page.locator("#id_image_alt")
    expect(alt).to_be_focused()
    expect(alt).to_have_attribute("required", "")
    expect(page.locator(".desk__field--image_alt .desk__needed")).to_be_visible()

    page.locator("#id_image_upload").set_input_files([])
    expect(preview).to_have_count(0)
    expect(alt).not_to_have_attribute("required", "")


def test_the_toolbar_has_what_a_live_post_needs(logged_in_page, live_server):
    page = logged_in_page
    blog = LiveBlogFactory()
    open_composer(page, live_server, blog)
    # Bold, italic, link, both lists, quote (settings.PROSE_EDITOR_EXTENSIONS).
    menubar = page.locator("#composer-form .prose-menubar")
    for name in ["bold", "italic", "link", "bulletList", "orderedList", "blockquote"]:
        expect(menubar.locator(f"[data-name={name}]")).to_have_count(1)
