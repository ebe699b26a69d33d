"""The client's copy of the live protocol (static/js/live/protocol.js) matches live/protocol.py,
and the other live modules use its names instead of bare close codes and frame types."""

import re
from pathlib import Path

from django.conf import settings
from django.core.management import call_command

LIVE_JS = Path(settings.BASE_DIR) / "static" / "js" / "live"

# Close codes the server uses, and 1000 where it is one: compared with, closed with, a case.
BARE_CLOSE_CODE = re.compile(
    r"\b(?:4008|4011|4013|4404|4429)\b"
    r"|(?:[!=]==?|case)\s*1000\b|\b1000\s*[!=]==?|close\(\s*1000\s*\)"
)
FRAME_LITERAL = re.compile(r"""["'`](?:hello|ping|event|blog\.archived)["'`]""")


def test_protocol_js_is_up_to_date():
    call_command("live_protocol_js", check=True)  # SystemExit if it differs from live/protocol.py


def test_live_modules_name_close_codes_and_frame_types():
    modules = sorted(path for path in LIVE_JS.glob("*.js") if path.name != "protocol.js")
    assert modules, f"no modules in {LIVE_JS}"
    found = [
        f"{path.name}:{number}: {line.strip()}"
        for path in modules
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if BARE_CLOSE_CODE.search(line) or FRAME_LITERAL.search(line)
    ]
    assert found == [], "use Close/Frame/BLOG_ARCHIVED from protocol.js:\n" + "\n".join(found)


IMPORT = re.compile(r"""^import\s[^;]*?from\s+["']\./([\w-]+)\.js["']""", re.M)
PRELOAD = re.compile(r'rel="modulepreload" href="[^"]*/js/live/([\w-]+?)(?:\.[0-9a-f]{12})?\.js"')


def test_the_page_preloads_every_module_main_imports_and_no_other(client, db):
    """The preload list in the live_client partial is kept by hand: a module missing from it still
    loads (one import level later), so only this test notices."""
    from tests.factories import LiveBlogFactory

    wanted, todo = set(), ["main"]
    while todo:
        for name in IMPORT.findall((LIVE_JS / f"{todo.pop()}.js").read_text()):
            if name not in wanted:
                wanted.add(name)
                todo.append(name)
    page = client.get(LiveBlogFactory().get_absolute_url()).content.decode()
    preloaded = PRELOAD.findall(page)
    assert sorted(preloaded) == sorted(wanted)
