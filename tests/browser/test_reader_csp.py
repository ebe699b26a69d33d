"""Reader pages under the enforced CSP, in Chromium, while readers use them (issue 5).

The live page, the archived page, a permalink, the embed, an author page and the front page, each
served by Daphne with the production policy: the page's own scripts run (live updates arrive, older
posts load, low-data mode switches), and Chromium reports no violation of any directive. The admin
side is in test_admin_csp.py and test_composer.py.
"""

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from posts import services
from posts.models import LiveBlog, Post
from posts.views import PAGE_SIZE
from tests.browser.conftest import in_worker
from tests.browser.test_admin_csp import assert_clean
from tests.browser.test_composer import record_csp_violations
from tests.browser.test_live_reader import open_reader, publish
from tests.factories import AuthorFactory, LiveBlogFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def assert_no_inline_scripts_allowed(policy: str) -> None:
    script_src = policy.split("script-src")[1].split(";")[0]
    assert "'unsafe-inline'" not in script_src


def enforced_policy(page: Page, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.ok, url
    assert_no_inline_scripts_allowed(response.headers.get("content-security-policy", ""))


@pytest.mark.redis
def test_live_page_receives_posts_and_switches_low_data_mode_without_csp_violations(
    page, daphne_server, browser_log
):
    violations = record_csp_violations(page)
    blog = LiveBlogFactory(title="Wahlabend")
    publish(blog, "Vorher")
    response = page.request.get(daphne_server.url + blog.get_absolute_url())
    assert_no_inline_scripts_allowed(response.headers["content-security-policy"])
    open_reader(page, daphne_server, blog)

    live = publish(blog, "Live angekommen", is_important=True)
    expect(page.locator(f"article#post-{live.pk}")).to_be_visible()
    expect(page.locator("#important-updates")).to_contain_text("Live angekommen")
    page.locator("#low-data-toggle").click()
    expect(page.locator("#low-data-toggle")).to_have_attribute("aria-pressed", "true")
    in_worker(services.delete_post, live)
    expect(page.locator(f"article#post-{live.pk}")).to_have_count(0)
    assert_clean(violations, browser_log)


def test_archived_page_loads_older_posts_without_csp_violations(page, daphne_server, browser_log):
    violations = record_csp_violations(page)
    author = AuthorFactory(name="Lena Hartwig")
    blog = LiveBlogFactory(title="Alter Abend")
    for n in range(PAGE_SIZE + 3):
        post = Post(live_blog=blog, headline=f"Meldung {n}", body="<p>Text.</p>")
        services.publish_post(post, authors=[author])
    services.archive_blog(blog)
    blog.refresh_from_db()
    assert blog.state == LiveBlog.State.ARCHIVED

    enforced_policy(page, daphne_server.url + blog.get_absolute_url())
    expect(page.locator(".liveblog--archived")).to_be_visible()
    expect(page.locator("#posts > article.post")).to_have_count(PAGE_SIZE)
    page.locator("#posts .load-older a").click()  # htmx swaps the next page in
    expect(page.locator("#posts > article.post")).to_have_count(PAGE_SIZE + 3)
    assert_clean(violations, browser_log)


def test_permalink_embed_author_and_front_pages_have_no_csp_violations(page, daphne_server, browser_log):
    violations = record_csp_violations(page)
    author = AuthorFactory(name="Lena Hartwig")
    blog = LiveBlogFactory(title="Wahlabend")
    post = services.publish_post(
        Post(live_blog=blog, headline="Erste Prognose", body="<p>Union vorn.</p>"), authors=[author]
    )

    enforced_policy(page, daphne_server.url + post.get_absolute_url())
    expect(page.locator(f"article#post-{post.pk}")).to_be_visible()
    enforced_policy(page, daphne_server.url + reverse("liveblog-embed", kwargs={"slug": blog.slug}))
    expect(page.locator("article.post")).to_have_count(1)
    enforced_policy(page, daphne_server.url + author.get_absolute_url())
    enforced_policy(page, daphne_server.url + "/")
    expect(page.get_by_text("Wahlabend").first).to_be_visible()
    assert_clean(violations, browser_log)
