"""The admin pages editors use, under the enforced CSP (style-src 'self', scripts by nonce).

Each test does the work an editor does on the page (widgets opened, files chosen, forms saved) and
asserts that Chromium reported no violation of any directive on any page it loaded. The composer
itself is covered in test_composer.py.
"""

import io
import re

import pytest
from django.urls import reverse
from PIL import Image
from playwright.sync_api import Page, expect

from authors.models import Author
from posts.models import LiveBlog, Post
from tests.browser.conftest import PASSWORD
from tests.browser.test_composer import (
    assert_editor_styles_from_static_css,
    csp_console_errors,
    cursor_to_end,
    failed_requests,
    record_csp_violations,
    select_back,
    toolbar,
)
from tests.factories import AuthorFactory, LiveBlogFactory, PostFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def png(width: int = 640, height: int = 480) -> dict:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (40, 90, 160)).save(buffer, format="PNG")
    return {"name": "foto.png", "mimeType": "image/png", "buffer": buffer.getvalue()}


def assert_clean(violations: list[str], browser_log) -> None:
    assert violations == []
    assert csp_console_errors(browser_log) == []
    assert browser_log["page_errors"] == []
    assert failed_requests(browser_log) == []


def saved(page: Page) -> None:
    expect(page.locator(".messagelist .success")).to_be_visible()
    expect(page.locator(".errornote")).to_have_count(0)


def test_admin_login_page_has_no_csp_violations(page, live_server, editor_user, browser_log):
    violations = record_csp_violations(page)
    page.goto(live_server.url + reverse("admin:login"))
    page.locator("#id_username").fill(editor_user.username)
    page.locator("#id_password").fill("not the password")
    page.locator("#login-form [type=submit]").click()
    expect(page.locator(".errornote")).to_be_visible()  # the failed login's page too
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#login-form [type=submit]").click()
    expect(page).to_have_url(live_server.url + reverse("admin:index"))
    assert_clean(violations, browser_log)


def test_live_blog_changelist_and_change_form_have_no_csp_violations(
    logged_in_page, live_server, browser_log
):
    page = logged_in_page
    violations = record_csp_violations(page)
    blog = LiveBlogFactory(title="Wahlabend", kicker="Bundestag")
    LiveBlogFactory(title="Landtagswahl", kicker="Land")

    page.goto(live_server.url + reverse("admin:posts_liveblog_changelist"))
    expect(page.locator("#result_list")).to_contain_text("Wahlabend")
    page.locator("#action-toggle").check()  # actions.js: select all, counter, action bar
    expect(page.locator(".action-counter")).to_be_visible()
    page.locator("#action-toggle").uncheck()
    page.locator("#changelist-search input[name=q]").fill("Wahlabend")
    page.locator("#changelist-search input[name=q]").press("Enter")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)

    page.locator("#result_list").get_by_role("link", name="Wahlabend").click()
    expect(page).to_have_url(re.compile(re.escape(reverse("admin:posts_liveblog_change", args=[blog.pk]))))
    # The successor picker (Select2, autocomplete) and the collapsed "Record" section.
    page.locator(".field-successor .select2-selection").click()
    page.locator(".select2-search__field").fill("Land")
    page.locator(".select2-results__option", has_text="Landtagswahl").click()
    page.locator("fieldset.collapse summary, details summary").first.click()
    page.locator("#id_teaser").fill("Alle Ergebnisse des Abends.")
    page.locator("input[name=_continue]").click()
    saved(page)
    blog.refresh_from_db()
    assert blog.successor.title == "Landtagswahl"
    assert blog.teaser == "Alle Ergebnisse des Abends."

    # A new blog: the slug is filled in from the title (prepopulate.js) as it is typed.
    page.goto(live_server.url + reverse("admin:posts_liveblog_add"))
    page.locator("#id_title").press_sequentially("Sturmflut an der Küste")
    expect(page.locator("#id_slug")).to_have_value("sturmflut-an-der-kuste")
    page.locator("#id_kicker").fill("Unwetter")
    page.locator("#id_teaser").fill("Alles zur Sturmflut.")
    page.locator("input[name=_continue]").click()
    saved(page)
    assert LiveBlog.objects.filter(slug="sturmflut-an-der-kuste").exists()

    assert_clean(violations, browser_log)


def test_post_change_form_with_date_time_and_image_fields_has_no_csp_violations(
    logged_in_page, live_server, browser_log
):
    page = logged_in_page
    violations = record_csp_violations(page)
    blog = LiveBlogFactory()
    post = PostFactory(live_blog=blog, headline="Deich hält", body="<p>Noch hält der Deich.</p>")
    AuthorFactory(name="Jana Berg")

    page.goto(live_server.url + reverse("admin:posts_post_change", args=[post.pk]))
    body = page.locator(".field-body .ProseMirror")
    expect(body).to_have_text("Noch hält der Deich.")
    assert_editor_styles_from_static_css(page)

    # The rich-text editor: bold, a link (its dialog), a quote.
    body.click()
    cursor_to_end(page, body)
    for _ in " der Deich.":
        page.keyboard.press("ArrowLeft")
    select_back(page, "hält")
    toolbar(page, ".field-body", "bold")
    expect(body.locator("strong")).to_have_text("hält")
    cursor_to_end(page, body)
    page.keyboard.press("Enter")
    page.keyboard.type("Pegel online")
    select_back(page, "online")
    toolbar(page, ".field-body", "link")
    dialog = page.locator("dialog.prose-editor-dialog[open]")
    dialog.locator("input[name=href]").fill("https://www.pegelonline.wsv.de/")
    dialog.locator("button[type=submit]").click()
    expect(body.locator("a")).to_have_text("online")
    cursor_to_end(page, body)
    page.keyboard.press("Enter")
    page.keyboard.type("Ruhe bewahren.")
    toolbar(page, ".field-body", "blockquote")
    expect(body.locator("blockquote")).to_have_text("Ruhe bewahren.")

    # The authors (Select2 with autocomplete).
    page.locator(".field-authors .select2-selection").click()
    page.locator(".select2-search__field").fill("Jana")
    page.locator(".select2-results__option", has_text="Jana Berg").click()

    # The date and time widgets: the calendar and the clock, and their shortcuts.
    published = page.locator(".field-published_at")
    published.locator(".date-icon").click()
    calendar = page.locator(".calendarbox[open], .calendarbox:visible").first
    expect(calendar).to_be_visible()
    calendar.locator(".calendarnav-previous").click()
    calendar.locator("td:not(.nonday) a", has_text="15").first.click()
    expect(calendar).to_be_hidden()
    published.locator(".clock-icon").click()
    clock = page.locator(".clockbox[open], .clockbox:visible").first
    expect(clock).to_be_visible()
    clock.locator(".timelist a").nth(3).click()  # noon
    expect(clock).to_be_hidden()
    expect(page.locator("#id_published_at_1")).to_have_value("12:00:00")

    # The image: a file chosen, described, stored; the form then shows it.
    page.locator("#id_image_upload").set_input_files(png())
    page.locator("#id_image_alt").fill("Der Deich bei Flut")
    page.locator("input[name=_continue]").click()
    saved(page)
    expect(page.locator(".field-image_preview img")).to_be_visible()
    expect(page.locator(".field-body .ProseMirror blockquote")).to_have_text("Ruhe bewahren.")

    post.refresh_from_db()
    assert "<p>Noch <strong>hält</strong> der Deich.</p>" in post.body
    assert 'href="https://www.pegelonline.wsv.de/"' in post.body
    assert "<blockquote><p>Ruhe bewahren.</p></blockquote>" in post.body
    assert [a.name for a in post.ordered_authors] == ["Jana Berg"]
    assert post.published_at.minute == 0
    assert post.image

    # The new-post form, with the date shortcuts "Today" and "Now".
    page.goto(live_server.url + reverse("admin:posts_post_add"))
    page.locator("#id_live_blog").select_option(str(blog.pk))
    page.locator("#id_headline").fill("Neue Lage")
    page.locator(".field-body .ProseMirror").click()
    page.keyboard.type("Das Wasser sinkt.")
    page.locator(".field-published_at .datetimeshortcuts a").first.click()  # today
    page.locator(".field-published_at .datetimeshortcuts a").nth(1).click()  # now
    page.locator("input[name=_save]").click()
    saved(page)
    assert Post.objects.filter(live_blog=blog, headline="Neue Lage").exists()

    assert_clean(violations, browser_log)


def test_author_change_form_has_no_csp_violations(logged_in_page, live_server, browser_log):
    page = logged_in_page
    violations = record_csp_violations(page)

    # A new author: the slug from the name (prepopulate.js), then a portrait.
    page.goto(live_server.url + reverse("admin:authors_author_add"))
    page.locator("#id_name").press_sequentially("Jörg Möller")
    expect(page.locator("#id_slug")).to_have_value("jorg-moller")
    page.locator("#id_role").fill("Reporter")
    page.locator("#id_avatar_upload").set_input_files(png(300, 300))
    page.locator("input[name=_continue]").click()
    saved(page)
    author = Author.objects.get(slug="jorg-moller")
    expect(page).to_have_url(live_server.url + reverse("admin:authors_author_change", args=[author.pk]))
    expect(page.locator(".field-avatar_preview img")).to_be_visible()

    # The change form: edit, remove the portrait, save.
    page.locator("#id_bio").fill("Berichtet von der Küste.")
    page.locator("#id_remove_avatar").check()
    page.locator("input[name=_continue]").click()
    saved(page)
    author.refresh_from_db()
    assert author.bio == "Berichtet von der Küste."
    assert not author.avatar

    page.goto(live_server.url + reverse("admin:authors_author_changelist"))
    expect(page.locator("#result_list")).to_contain_text("Jörg Möller")

    assert_clean(violations, browser_log)


def test_turning_on_two_step_login_and_logging_in_with_it_has_no_csp_violations(
    logged_in_page, live_server, editor_user, browser_log
):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.test_two_factor import code

    page = logged_in_page
    violations = record_csp_violations(page)

    page.locator('#user-tools a[href="/admin/two-factor/"]').click()
    qr = page.locator("#two-factor-qr")
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.naturalWidth") > 0  # the data: SVG really rendered
    device = TOTPDevice.objects.get(user=editor_user)
    page.locator("#id_token").fill(code(device))
    page.locator("#two-factor-form [type=submit]").click()
    saved(page)
    assert TOTPDevice.objects.get(user=editor_user).confirmed

    page.locator("#logout-form button").click()
    page.goto(live_server.url + reverse("admin:login"))
    page.locator("#id_username").fill(editor_user.username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#id_otp_token").fill(code(device, steps_ahead=1))  # a fresh code, not the used one
    page.locator("#login-form [type=submit]").click()
    expect(page).to_have_url(live_server.url + reverse("admin:index"))
    assert_clean(violations, browser_log)
