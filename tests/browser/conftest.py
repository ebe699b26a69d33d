"""Browser tests: Playwright's sync API driving Debian's Chromium against pytest-django's live server.

Recipes from shared/TESTING.md: point pytest-playwright at /usr/bin/chromium (never
`playwright install`), and allow the ORM in the test thread, where Playwright's sync API keeps an
event loop running.

The reader page needs WebSockets, which pytest-django's (WSGI) live server cannot serve:
`daphne_server` runs the real ASGI application under Daphne in a child process, on the test
database.
"""

import importlib
import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import Group, Permission
from django.db import connections
from django.urls import reverse
from django.utils.crypto import get_random_string
from playwright.sync_api import Page, expect

from tests.conftest import REDIS_URL
from tests.factories import EditorFactory
from tests.servers import DaphneServer, delete_redis_keys, new_layer_prefix, redis_layer, server_env

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


def in_worker(fn, *args, **kwargs):
    """Run ORM code that broadcasts on commit (async_to_sync) off the thread Playwright's loop runs in."""

    def call():
        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result()


@pytest.fixture(scope="session", autouse=True)
def allow_sync_orm_beside_playwright():
    # Playwright's sync API keeps an event loop in the test thread, which Django would take for
    # async code. Only from the first browser test on (they run last): the rest of the suite keeps
    # Django's async-safety checks.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="session", autouse=True)
def live_server_settings():
    """Settings for pytest-django's live_server, which starts once per session.

    CI runs with production settings: the per-test `plain_http` fixture comes too late for the
    session's server (it would redirect Chromium to HTTPS), and the manifest storage's hashed
    names are not what the live server's static handler serves from the source folders.
    """
    from django.test import override_settings

    override = override_settings(
        SECURE_SSL_REDIRECT=False,
        STORAGES={
            **django_settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
    )
    override.enable()
    yield
    override.disable()


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


# ---- a real ASGI server (Daphne) for the reader page -------------------------------------------


@pytest.fixture
def daphne_server(request, transactional_db, settings, tmp_path):
    """Daphne serving the whole app (pages, admin, WebSockets) on the test database.

    Tests using it must be transactional (`django_db(transaction=True)`): Daphne has its own
    database connections and sees only committed rows.

    Channel layer: a test marked `redis` shares a Redis layer (with a prefix of its own) between
    this process and Daphne, so posts published here through `posts.services` (whose broadcast
    runs in this process) reach Daphne's hub and its readers. Any other test gets Daphne's own
    in-memory layer: only what is published through Daphne itself (the composer) is pushed.

    Daphne always runs with DJANGO_DEBUG=1, whatever this process has: with DEBUG off it would need
    `collectstatic`'s manifest and would redirect to HTTPS. Static files then come from the
    finders (WhiteNoise), so the tests use the sources under static/ as they are.
    """
    env = server_env(DJANGO_MEDIA_ROOT=str(settings.MEDIA_ROOT))
    prefix = None
    if request.node.get_closest_marker("redis"):
        prefix = new_layer_prefix("browser")
        env.update(REDIS_URL=REDIS_URL, CHANNEL_LAYER_PREFIX=prefix)
        settings.CHANNEL_LAYERS = redis_layer(REDIS_URL, prefix)
    server = DaphneServer(env, tmp_path / "daphne.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()
        if prefix:
            delete_redis_keys(REDIS_URL, prefix)


@pytest.fixture
def server_editor(editors_group):
    """An editor who can log in to Daphne, whose settings lack the tests' fast MD5 hasher."""
    user = EditorFactory()
    user.password = PBKDF2PasswordHasher().encode(PASSWORD, get_random_string(22))
    user.save(update_fields=["password"])
    return user


@pytest.fixture
def server_editor_page(new_context, daphne_server, server_editor) -> Page:
    """A page in a browser context of its own, logged in to Daphne's admin through its login form."""
    page = new_context().new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(daphne_server.url + reverse("admin:login"))
    page.locator("#id_username").fill(server_editor.username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#login-form [type=submit]").click()
    expect(page).to_have_url(daphne_server.url + reverse("admin:index"))
    return page


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    # A failing test that used Daphne shows the server's log next to its own output.
    report = yield
    server = getattr(item, "funcargs", {}).get("daphne_server")
    if server is not None and report.when == "call" and report.failed:
        report.sections.append(("Daphne's log", server.log_tail()))
    return report
