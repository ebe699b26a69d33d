"""Where stream.js puts what it places: the "Important updates" list, "Last update", older posts.

- The list of important updates keeps the server's order (newest first, then id) when a post is
  flagged live, whatever its age: the server renders each item's data-published for that.
- "Last update" names the newest post's time: a restored or backdated post never moves it back.
- "Load older posts" whose whole next page was deleted meanwhile brings no "No updates yet."

Helpers and fixtures as in test_live_reader.py: Daphne serves the page, posts change through
`posts.services` in this process and reach Daphne over a shared Redis channel layer.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from posts import services
from posts.models import Post
from tests.browser.conftest import in_worker
from tests.browser.test_live_reader import article, assert_not_reloaded, open_reader, publish
from tests.factories import LiveBlogFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.redis]

PAGE_SIZE = 20  # posts/views.py


def publish_at(blog, headline: str, minutes_ago: int, **fields) -> Post:
    return publish(blog, headline, published_at=timezone.now() - timedelta(minutes=minutes_ago), **fields)


def important_ids(page: Page) -> list[str]:
    return page.locator("#important-updates li[data-post]").evaluate_all(
        "(items) => items.map((item) => item.dataset.post)"
    )


def expect_important(page: Page, posts: list[Post]) -> None:
    expect(page.locator("#important-updates li[data-post]")).to_have_count(len(posts))
    assert important_ids(page) == [str(post.pk) for post in posts]


def datetime_attribute(blog, post: Post) -> str:
    """The `datetime` of a post's <time> (and of "Last update"), as the template renders it."""
    return timezone.localtime(post.published_at, blog.tzinfo).strftime("%Y-%m-%dT%H:%M:%S%z")


def test_post_flagged_important_live_joins_the_list_in_the_servers_order(page, daphne_server):
    blog = LiveBlogFactory()
    oldest = publish_at(blog, "Erste Meldung", 50)
    older = publish_at(blog, "Wichtig am Nachmittag", 40, is_important=True)
    middle = publish_at(blog, "Zwischenstand", 30)
    newer = publish_at(blog, "Wichtig am Abend", 20, is_important=True)
    newest = publish_at(blog, "Neueste Meldung", 10)
    open_reader(page, daphne_server, blog)
    expect_important(page, [newer, older])  # as the server renders it

    in_worker(services.set_important, newest, True)
    expect_important(page, [newest, newer, older])

    in_worker(services.set_important, middle, True)
    expect_important(page, [newest, newer, middle, older])

    in_worker(services.set_important, oldest, True)
    expect_important(page, [newest, newer, middle, older, oldest])

    in_worker(services.set_important, middle, False)
    expect_important(page, [newest, newer, older, oldest])
    expect(article(page, middle)).to_have_count(1)  # out of the list, still in the stream
    assert_not_reloaded(page)


def test_last_update_never_moves_back(page, daphne_server):
    blog = LiveBlogFactory()
    old = publish_at(blog, "Am Morgen", 120)
    newest = publish_at(blog, "Gerade eben", 1)
    open_reader(page, daphne_server, blog)
    last_update = page.locator("#last-update")
    expect(last_update).to_have_attribute("datetime", datetime_attribute(blog, newest))

    # Restored: back in the stream at its old place, but it is not the latest update.
    in_worker(services.delete_post, old)
    expect(article(page, old)).to_have_count(0)
    in_worker(services.restore_post, old)
    expect(article(page, old)).to_have_count(1)
    # Backdated: a new post with an old published time, inserted below the newer one.
    backdated = publish_at(blog, "Nachgetragen", 60)
    expect(article(page, backdated)).to_have_count(1)
    expect(last_update).to_have_attribute("datetime", datetime_attribute(blog, newest))

    # A newer post still moves it forward.
    latest = publish(blog, "Ganz neu")
    expect(article(page, latest)).to_have_count(1)
    expect(last_update).to_have_attribute("datetime", datetime_attribute(blog, latest))
    assert_not_reloaded(page)


def test_load_older_after_its_page_was_deleted_brings_no_empty_state(page, daphne_server):
    def publish_all():
        return [
            services.publish_post(Post(live_blog=blog, headline=f"Meldung {n}", body="<p>Text.</p>"))
            for n in range(PAGE_SIZE + 3)
        ]

    blog = LiveBlogFactory()
    posts = in_worker(publish_all)
    open_reader(page, daphne_server, blog)
    shown = page.locator("#posts > article.post")
    expect(shown).to_have_count(PAGE_SIZE)
    for post in posts[:3]:  # everything behind "Load older posts"
        in_worker(services.delete_post, post)

    page.locator(".load-older a").click()

    expect(page.locator(".load-older")).to_have_count(0)
    expect(shown).to_have_count(PAGE_SIZE)
    expect(page.locator("#posts > p.empty")).to_have_count(0)
    assert_not_reloaded(page)
