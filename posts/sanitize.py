"""The allow-list for post bodies.

Editors write rich text in ProseMirror, but the server never trusts what the browser sends: every
body passes nh3 (the Rust crate ammonia) on every save, through `clean_html`. Only what the
composer's toolbar can produce survives; everything else (script, style, event handlers, iframes,
SVG, MathML, javascript:/data: URLs) is dropped.
"""

import re
import unicodedata

import nh3

ALLOWED_TAGS = {"p", "br", "strong", "b", "em", "i", "a", "ul", "ol", "li", "blockquote"}
# "*": no attribute on every tag. Without it ammonia keeps its default generic attributes
# (lang and title) on every allowed element.
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "*": set()}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}

_SCHEME = re.compile(r"([a-z][a-z0-9+.\-]*):")


def _squeezed(value: str) -> str:
    """`value` without whitespace, control and invisible formatting characters, lowercased."""
    return "".join(
        ch
        for ch in value
        if not ch.isspace() and ch != "\ufffd" and unicodedata.category(ch) not in {"Cc", "Cf"}
    ).lower()


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    """Drop an href that reads as a foreign scheme once invisible characters are ignored.

    ammonia rejects what a URL parser takes for a javascript:/data: URL, but passes values such
    as "java script:…" or "java\\u00adscript:…" as relative URLs. Browsers treat them so too today;
    such an href is never a real link, so it goes rather than rely on every parser agreeing.
    """
    if attribute == "href":
        match = _SCHEME.match(_squeezed(value))
        if match and match.group(1) not in ALLOWED_URL_SCHEMES:
            return None
    return value


_cleaner = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    attributes=ALLOWED_ATTRIBUTES,
    attribute_filter=_filter_attribute,
    url_schemes=ALLOWED_URL_SCHEMES,
    link_rel="noopener noreferrer",
    strip_comments=True,
)


def clean_html(html: str | None) -> str:
    """Sanitized body HTML; an editor's empty paragraph becomes the empty string."""
    # A second pass settles what one pass can only rearrange (content of a dropped <table> nesting
    # links, an entity-encoded CR, a BOM, attribute order): saving an already-clean body again
    # must not change it. A leading BOM would be dropped by the next parse, so drop it now.
    cleaned = _cleaner.clean(_cleaner.clean(html or "")).strip().lstrip("\ufeff")
    if cleaned in {"<p></p>", "<p><br></p>"}:
        return ""
    return cleaned
