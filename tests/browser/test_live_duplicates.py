"""The reader page never shows a post twice: live events against "Load older posts" and "Show new updates".

static/js/live/stream.js places pushed posts (`place()`) while htmx appends older pages and the reader's
"Show new updates" button inserts held-back ones. Each of those paths once added a second
`article#post-<id>` (found by `python -m bench.faults --scenario editors`):

- an event for an older post, not on the reloaded page, was inserted just above "Load older
  posts", and that link then appended the same post again;
- a held-back new post that an edit inserted once the reader was back at the top stayed held back,
  so "Show new updates" inserted its older copy too (and a delete then removed only one of them).

Helpers and fixtures as in test_live_reader.py: Daphne serves the page, posts change through
`posts.services` in this process and reach Daphne over a shared Redis channel layer.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from posts import services
from posts.models import Post
from tests.browser.conftest import in_worker
from tests.browser.test_live_reader import article, assert_not_reloaded, open_reader, publish
from tests.factories import LiveBlogFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.redis]

PAGE_SIZE = 20  # posts/views.py


def publish_many(blog, count: int = PAGE_SIZE + 5) -> list[Post]:
    """`count` posts, oldest first: the page shows the newest 20, the rest are behind the link."""

    def publish_all():
        return [
            services.publish_post(Post(live_blog=blog, headline=f"Meldung {n}", body="<p>Text.</p>" * 3))
            for n in range(count)
        ]

    return in_worker(publish_all)


def shown_ids(page: Page) -> list[str]:
    return page.locator("#posts > article.post").evaluate_all("(articles) => articles.map((a) => a.id)")


def ids(posts: list[Post]) -> list[str]:
    return [f"post-{post.pk}" for post in posts]


def edit(post: Post, headline: str) -> None:
    post.refresh_from_db()
    post.headline = headline
    in_worker(services.update_post, post)


def scroll_away(page: Page) -> None:
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    # Far enough down that the live client holds new posts back (below the top of the list).
    assert page.evaluate("window.scrollY > document.getElementById('posts').offsetTop + 40")


def pause_and_resume(page: Page) -> None:
    """Resuming shows what is held back, as "Show new updates" does (stream.js showPending)."""
    toggle = page.locator("#live-toggle")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "false")


# ---- "Load older posts" ------------------------------------------------------------------------


@pytest.mark.parametrize("change", ["important", "edit"])
def test_change_to_an_older_post_shows_it_once_after_load_older(page, daphne_server, change):
    blog = LiveBlogFactory()
    posts = publish_many(blog)
    old = posts[2]  # behind "Load older posts"
    open_reader(page, daphne_server, blog)
    expect(page.locator("#posts > article.post")).to_have_count(PAGE_SIZE)

    if change == "important":
        in_worker(services.set_important, old, True)
        # Applied: the list of important updates at the top names it (it links to every one).
        expect(page.locator(f'#important-updates li[data-post="{old.pk}"]')).to_have_count(1)
    else:
        edit(old, "Meldung 2 (korrigiert)")
        # Events apply in order: once a later post is on the page, the edit was applied too.
        later = publish(blog, "Danach")
        expect(article(page, later)).to_have_count(1)
        posts.append(later)
    # Not inserted above "Load older posts": loading them brings it, in its current version.
    expect(article(page, old)).to_have_count(0)

    page.locator(".load-older a").click()

    expect(page.locator(".load-older")).to_have_count(0)
    expect(page.locator("#posts > article.post")).to_have_count(len(posts))
    expect(article(page, old)).to_have_count(1)
    if change == "important":
        expect(article(page, old)).to_have_class(re.compile(r"\bpost--important\b"))
    else:
        expect(article(page, old).locator(".post__headline")).to_have_text("Meldung 2 (korrigiert)")
    assert shown_ids(page) == ids(posts[::-1])
    assert_not_reloaded(page)


def test_unpinned_older_post_shows_once_after_load_older(page, daphne_server):
    blog = LiveBlogFactory()
    posts = publish_many(blog)
    old = posts[2]
    in_worker(services.set_pinned, old, True)
    open_reader(page, daphne_server, blog)
    expect(article(page, old)).to_have_count(1)
    expect(page.locator(f"#pinned > article#post-{old.pk}")).to_be_visible()

    in_worker(services.set_pinned, old, False)

    # Out of the pinned slot, and not above "Load older posts" either: it is older than the page.
    expect(page.locator("#pinned")).to_be_hidden()
    expect(article(page, old)).to_have_count(0)

    page.locator(".load-older a").click()

    expect(page.locator("#posts > article.post")).to_have_count(len(posts))
    expect(article(page, old)).to_have_count(1)
    assert shown_ids(page) == ids(posts[::-1])
    assert_not_reloaded(page)


@pytest.mark.parametrize("change", ["edit", "delete", "pin"])
def test_change_while_older_posts_load_applies_to_what_they_bring(page, daphne_server, change):
    # "Load older posts" answers with the posts as they were when the server rendered them: a
    # change applied while that answer is on its way is newer, and wins.
    blog = LiveBlogFactory()
    posts = publish_many(blog)
    old = posts[2]
    open_reader(page, daphne_server, blog)
    held = []  # (route, the answer rendered before the change)
    page.route(re.compile(r"[?&]cursor=\d+"), lambda route: held.append((route, route.fetch())))

    page.locator(".load-older a").click()
    for _ in range(50):
        if held:
            break
        page.wait_for_timeout(100)
    assert len(held) == 1, "the older posts were not requested"
    assert old.headline in held[0][1].text()
    page.evaluate("window.scrollTo(0, 0)")  # clicking scrolled down to the link: back to the top

    if change == "edit":
        edit(old, "Meldung 2 (korrigiert)")
    elif change == "delete":
        in_worker(services.delete_post, old)
        posts.remove(old)
    else:
        in_worker(services.set_pinned, old, True)
        posts.remove(old)
        expect(page.locator(f"#pinned > article#post-{old.pk}")).to_be_visible()
    later = publish(blog, "Danach")
    expect(article(page, later)).to_have_count(1)  # so the change before it was applied too
    posts.append(later)
    route, answer = held[0]
    route.fulfill(response=answer)

    expect(page.locator(".load-older")).to_have_count(0)
    expect(page.locator("#posts > article.post")).to_have_count(len(posts))
    assert shown_ids(page) == ids(posts[::-1])
    if change == "edit":
        expect(article(page, old)).to_have_count(1)
        expect(article(page, old).locator(".post__headline")).to_have_text("Meldung 2 (korrigiert)")
    elif change == "delete":
        expect(article(page, old)).to_have_count(0)
    else:
        expect(article(page, old)).to_have_count(1)
        expect(page.locator(f"#pinned > article#post-{old.pk}")).to_be_visible()
    assert_not_reloaded(page)


# ---- "Show new updates" ------------------------------------------------------------------------


def test_held_back_post_edited_after_scrolling_back_shows_once(page, daphne_server):
    blog = LiveBlogFactory()
    publish_many(blog)
    open_reader(page, daphne_server, blog)
    base_title = page.title()
    scroll_away(page)
    new = publish(blog, "Neue Lage")
    button = page.locator("#new-updates")
    expect(button).to_be_visible()
    expect(article(page, new)).to_have_count(0)

    # Back at the top, with the button still there; an edit of the held-back post inserts it.
    page.evaluate("window.scrollTo(0, 0)")
    edit(new, "Neue Lage (aktualisiert)")

    expect(article(page, new)).to_have_count(1)
    expect(article(page, new).locator(".post__headline")).to_have_text("Neue Lage (aktualisiert)")
    # Shown, so no longer held back: no button, no count in the title.
    expect(button).to_be_hidden()
    expect(page).to_have_title(base_title)
    pause_and_resume(page)  # shows whatever is still held back: nothing
    expect(article(page, new)).to_have_count(1)
    expect(article(page, new).locator(".post__headline")).to_have_text("Neue Lage (aktualisiert)")
    expect(page.locator("#posts > article.post").first).to_have_id(f"post-{new.pk}")

    in_worker(services.delete_post, new)

    expect(article(page, new)).to_have_count(0)
    assert_not_reloaded(page)


def test_post_deleted_while_held_back_never_shows(page, daphne_server):
    blog = LiveBlogFactory()
    publish_many(blog)
    open_reader(page, daphne_server, blog)
    base_title = page.title()
    scroll_away(page)
    new = publish(blog, "Falsche Meldung")
    button = page.locator("#new-updates")
    expect(button).to_be_visible()
    expect(page).to_have_title(f"(1) {base_title}")

    in_worker(services.delete_post, new)

    expect(button).to_be_hidden()
    expect(page).to_have_title(base_title)
    page.evaluate("window.scrollTo(0, 0)")
    pause_and_resume(page)
    expect(page.locator("#posts > article.post")).to_have_count(PAGE_SIZE)
    expect(article(page, new)).to_have_count(0)
    assert_not_reloaded(page)
