"""WCAG 2.1 A/AA checks with axe-core on every public page and on the composer, in Chromium.

The pages are those tests/test_html_validity.py checks for valid HTML (`build_site()`), served by
pytest-django's live server (WSGI: the reader page's WebSocket fails there and it falls back to
polling, which changes nothing axe looks at). axe is injected into each page, so the browser
context bypasses the strict CSP. Needs `npm ci` (node_modules/axe-core): skipped locally without
it, a failure in CI (LIVEBLOG_REQUIRE_SERVICES=1).
"""

import json

import pytest
from django.conf import settings
from django.urls import reverse
from playwright.sync_api import Page, expect

from posts import services
from posts.models import LiveBlog, Post
from tests.browser.conftest import in_worker
from tests.factories import EditorFactory
from tests.test_html_validity import NODE_MODULES, build_site, require_tool

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE_JS = NODE_MODULES / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PASSWORD = "accessibility-test-pass-phrase"
TIMEOUT_MS = 10_000
COLOR_SCHEMES = ["light", "dark"]

# Known issues in widgets the composer embeds but our templates cannot change (their markup is
# built by JavaScript), excused on the composer only: {axe rule id: CSS selector of the elements
# excused}. Everything else on the page, and these rules on every other element, are still checked.
COMPOSER_KNOWN_ISSUES = {
    # Django admin's autocomplete widget (Select2, for the authors field) renders its search box
    # without a label; the <select> it stands for is labelled.
    "label": ".select2-search__field",
}

# Runs axe; leaves out the nodes `excused` names per rule and the rules with no node left.
RUN_AXE = """async ([tags, excused]) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
  const isExcused = (rule, node) => {
    const element = node.target.length === 1 ? document.querySelector(node.target[0]) : null;
    return Boolean(excused[rule] && element && element.matches(excused[rule]));
  };
  const violations = result.violations
    .map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.filter((n) => !isExcused(v.id, n))
        .map((n) => ({target: n.target, summary: n.failureSummary})),
    }))
    .filter((v) => v.nodes.length);
  return {violations, passes: result.passes.length};
}"""


@pytest.fixture
def axe_page(new_context, color_scheme) -> Page:
    require_tool(AXE_JS.is_file(), f"needs {AXE_JS.relative_to(settings.BASE_DIR)} (npm ci)")
    # axe is injected as a script of its own: the pages' CSP (script-src 'self' 'nonce-…') would refuse it.
    page = new_context(bypass_csp=True, color_scheme=color_scheme).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return page


def axe_violations(page: Page, excused: dict[str, str] | None = None) -> list[dict]:
    page.add_script_tag(path=str(AXE_JS))
    result = page.evaluate(RUN_AXE, [WCAG_TAGS, excused or {}])
    assert result["passes"] > 0, f"axe checked nothing on {page.url}"
    return result["violations"]


def describe(violations_by_page: dict[str, list[dict]]) -> str:
    lines = []
    for name, violations in violations_by_page.items():
        for v in violations:
            lines.append(f"{name}: {v['id']} ({v['impact']}): {v['help']}")
            for node in v["nodes"]:
                lines.append(f"    {json.dumps(node['target'])}")
                lines.extend(f"      {line}" for line in (node["summary"] or "").splitlines())
    return "\n".join(lines)


@pytest.mark.parametrize("color_scheme", COLOR_SCHEMES)
def test_public_pages_have_no_wcag_violations(axe_page, live_server, color_scheme):
    pages = in_worker(build_site)
    found = {}
    for name, path in pages.items():
        response = axe_page.goto(live_server.url + path)
        assert response is not None and response.ok, (
            f"{name}: GET {path} answered {response and response.status}"
        )
        violations = axe_violations(axe_page)
        if violations:
            found[name] = violations
    assert not found, f"axe-core found WCAG 2.1 A/AA violations ({color_scheme}):\n{describe(found)}"


@pytest.mark.parametrize("color_scheme", COLOR_SCHEMES)
def test_composer_has_no_wcag_violations(axe_page, live_server, editors_group, color_scheme):
    def setup():
        editor = EditorFactory()
        editor.set_password(PASSWORD)
        editor.save()
        build_site()
        # The live blog's posts: pinned, important, edited, with image; and a deleted one.
        blog = LiveBlog.objects.get(slug="wahl")
        services.delete_post(services.publish_post(Post(live_blog=blog, headline="Falsche Meldung")))
        return editor, blog

    editor, blog = in_worker(setup)
    page = axe_page
    page.goto(live_server.url + reverse("admin:login"))
    page.locator("#id_username").fill(editor.username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#login-form [type=submit]").click()
    expect(page).to_have_url(live_server.url + reverse("admin:index"))

    page.goto(live_server.url + reverse("admin:posts_liveblog_composer", args=[blog.pk]))
    expect(page.locator("#composer-form .ProseMirror")).to_be_visible()
    violations = axe_violations(page, COMPOSER_KNOWN_ISSUES)
    assert not violations, (
        f"axe-core found WCAG 2.1 A/AA violations on the composer ({color_scheme}):\n"
        f"{describe({'composer': violations})}"
    )


@pytest.mark.parametrize("color_scheme", ["light"])
def test_load_older_link_still_loads_in_place(axe_page, live_server, color_scheme):
    # The link uses htmx's data-hx-* spelling (valid HTML); htmx must still swap the older posts in.
    pages = in_worker(build_site)
    page = axe_page
    page.goto(live_server.url + pages["reader"])
    posts = page.locator("#posts > article.post")
    expect(posts).to_have_count(20)
    page.evaluate("window.__marker = 1")
    page.locator(".load-older a").click()
    expect(posts).to_have_count(23)  # every post but the pinned one
    expect(page.locator(".load-older")).to_have_count(0)
    assert page.evaluate("window.__marker") == 1, "the page was reloaded instead of swapping in place"
