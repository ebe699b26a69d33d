"""The allow-list for post bodies.

Editors write rich text in ProseMirror, but the server never trusts what the browser sends: every
body passes nh3 (the Rust crate ammonia) on every save, through `clean_html`. Only what the
composer's toolbar can produce survives; everything else (script, style, event handlers, iframes,
SVG, MathML, javascript:/data: URLs) is dropped.
"""

import nh3

ALLOWED_TAGS = {"p", "br", "strong", "b", "em", "i", "a", "ul", "ol", "li", "blockquote"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}

_cleaner = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    attributes=ALLOWED_ATTRIBUTES,
    url_schemes=ALLOWED_URL_SCHEMES,
    link_rel="noopener noreferrer",
    strip_comments=True,
)


def clean_html(html: str | None) -> str:
    """Sanitized body HTML; an editor's empty paragraph becomes the empty string."""
    cleaned = _cleaner.clean(html or "").strip()
    if cleaned in {"<p></p>", "<p><br></p>"}:
        return ""
    return cleaned
