"""Browser tests: Playwright's sync API driving Debian's Chromium against pytest-django's live server.

Recipes from shared/TESTING.md: point pytest-playwright at /usr/bin/chromium (never
`playwright install`), and allow the ORM in the test thread, where Playwright's sync API keeps an
event loop running.
"""

import importlib
import os

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from playwright.sync_api import Page, expect

from tests.factories import EditorFactory

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 5_000
PASSWORD = "browser-test-pass-phrase"

expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": [*browser_type_launch_args.get("args", []), *CHROMIUM_ARGS],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # The newsroom's language; the tests find elements by id and URL, not by their labels.
    return {**browser_context_args, "locale": "de-DE"}


@pytest.fixture
def editors_group(transactional_db):
    """The "Editors" group that migration posts/0002 creates.

    A transactional test flushes every table when it ends; the permissions come back through
    post_migrate, but data created by migrations does not. Recreate the group from the
    migration's own list of permissions.
    """
    migration = importlib.import_module("posts.migrations.0002_editors_group")
    group, _ = Group.objects.get_or_create(name="Editors")
    for app_label, codenames in migration.EDITOR_PERMISSIONS.items():
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
        )
    return group


@pytest.fixture
def editor_user(editors_group):
    user = EditorFactory()
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.fixture
def browser_log(page: Page):
    """What the page reports: uncaught errors, console errors and failed (>= 400) responses."""
    log = {"page_errors": [], "console_errors": [], "bad_responses": []}
    page.on("pageerror", lambda error: log["page_errors"].append(str(error)))
    page.on(
        "console",
        lambda message: message.type == "error" and log["console_errors"].append(message.text),
    )
    page.on(
        "response",
        lambda response: (
            response.status >= 400
            and log["bad_responses"].append(f"{response.status} {response.request.method} {response.url}")
        ),
    )
    return log


@pytest.fixture
def logged_in_page(page: Page, live_server, editor_user, browser_log) -> Page:
    """A page logged in through the admin's login form, as an editor would."""
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(live_server.url + reverse("admin:login"))
    page.locator("#id_username").fill(editor_user.username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#login-form [type=submit]").click()
    expect(page).to_have_url(live_server.url + reverse("admin:index"))
    return page
