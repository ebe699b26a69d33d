"""German and English UI: reader pages follow the blog's language, the admin the editor's.

The catalogue checks guard the committed files: every German string is translated and reviewed
(nothing fuzzy), and the committed .mo files say exactly what the .po files say, so a fresh
clone or CI needs no gettext to show the current translations.
"""

import gettext
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import ngettext

from posts.models import LiveBlog
from tests.conftest import _missing as missing
from tests.factories import LiveBlogFactory, PostFactory

LOCALE = Path(settings.BASE_DIR) / "locale"
LANGUAGES = [code for code, _name in settings.LANGUAGES]

DE_ARCHIVED = "Dieser Liveblog ist archiviert und wird nicht mehr aktualisiert."
EN_ARCHIVED = "This live blog is archived and no longer updated."


def archived_blog(language: str) -> LiveBlog:
    return LiveBlogFactory(
        language=language,
        state=LiveBlog.State.ARCHIVED,
        topic_title="Themenseite Wahl",
        topic_url="https://example.org/thema/wahl",
    )


# Reader pages: the blog's language, whatever the browser asks for.


@pytest.mark.django_db
def test_german_reader_page(client):
    blog = LiveBlogFactory(language="de")
    PostFactory(live_blog=blog, is_important=True, edited_at=timezone.now() + timedelta(minutes=5))

    # A browser asking for English still gets the German blog in German.
    response = client.get(f"/live/{blog.slug}/", headers={"Accept-Language": "en"})

    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="de">' in html
    assert "Wichtige Updates" in html
    assert '<span class="post__edited">aktualisiert ' in html
    assert "Important updates" not in html
    assert DE_ARCHIVED not in html


@pytest.mark.django_db
def test_german_archived_reader_page(client):
    blog = archived_blog("de")

    response = client.get(f"/live/{blog.slug}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert DE_ARCHIVED in html
    assert "Die aktuelle Berichterstattung finden Sie hier:" in html
    assert 'href="https://example.org/thema/wahl"' in html
    assert EN_ARCHIVED not in html


@pytest.mark.django_db
def test_english_reader_page(client):
    blog = LiveBlogFactory(language="en")
    PostFactory(live_blog=blog, is_important=True, edited_at=timezone.now() + timedelta(minutes=5))

    # A browser asking for German still gets the English blog in English.
    response = client.get(f"/live/{blog.slug}/", headers={"Accept-Language": "de"})

    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="en">' in html
    assert "Important updates" in html
    assert '<span class="post__edited">updated ' in html
    assert "Wichtige Updates" not in html


@pytest.mark.django_db
def test_english_archived_reader_page(client):
    blog = archived_blog("en")

    response = client.get(f"/live/{blog.slug}/", headers={"Accept-Language": "de"})

    assert response.status_code == 200
    html = response.content.decode()
    assert EN_ARCHIVED in html
    assert "Current coverage:" in html
    assert DE_ARCHIVED not in html


# The admin: the editor's language (Accept-Language), whatever the blog's language.


@pytest.mark.parametrize(
    ("accept", "expected", "other"),
    [("de", "Liveblogs", "Live blogs"), ("en", "Live blogs", "Liveblogs")],
)
def test_admin_changelist_follows_editor_language(editor_client, accept, expected, other):
    LiveBlogFactory(language="de" if accept == "en" else "en")

    response = editor_client.get("/admin/posts/liveblog/", headers={"Accept-Language": accept})

    assert response.status_code == 200
    assert response.headers["Content-Language"] == accept
    html = response.content.decode()
    assert expected in html
    assert other not in html


@pytest.mark.parametrize(
    ("accept", "expected", "other"),
    [
        ("de", ["Veröffentlichen", "Beitragseingabe", "Überschrift"], ["Publish", "Composer"]),
        ("en", ["Publish", "Composer", "Headline"], ["Veröffentlichen", "Beitragseingabe"]),
    ],
)
def test_composer_follows_editor_language(editor_client, accept, expected, other):
    blog = LiveBlogFactory(language="en" if accept == "de" else "de")

    response = editor_client.get(
        reverse("admin:posts_liveblog_composer", args=[blog.pk]), headers={"Accept-Language": accept}
    )

    assert response.status_code == 200
    html = response.content.decode()
    for text in expected:
        assert text in html
    for text in other:
        assert text not in html


# The admin's messages, held in variables so that makemessages does not list this file as a source.
POSTS_CHANGED = ("%(n)d post changed.", "%(n)d posts changed.")
BLOGS_CHANGED = ("%(n)d live blog changed.", "%(n)d live blogs changed.")


@pytest.mark.parametrize(
    ("message", "n", "expected"),
    [
        (POSTS_CHANGED, 1, "1 Beitrag geändert."),
        (POSTS_CHANGED, 3, "3 Beiträge geändert."),
        (BLOGS_CHANGED, 1, "1 Liveblog geändert."),
        (BLOGS_CHANGED, 0, "0 Liveblogs geändert."),
    ],
)
def test_german_plural_forms(message, n, expected):
    with translation.override("de"):
        assert ngettext(*message, n) % {"n": n} == expected


# The committed catalogues.

_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
_PLACEHOLDER = re.compile(r"%(?:\([^)]+\))?[-#0 +]*\d*(?:\.\d+)?[sdif%]")


def _unquote(text: str) -> str:
    text = text.strip()
    assert text.startswith('"') and text.endswith('"'), text
    return re.sub(r"\\(.)", lambda m: _ESCAPES[m.group(1)], text[1:-1])


def parse_po(path: Path) -> list[dict]:
    """The active entries of a .po file: {"flags": set, "msgid": ..., "msgstr": ..., ...}."""
    entries = []
    for block in re.split(r"\n[ \t]*\n", path.read_text(encoding="utf-8").strip("\n")):
        entry: dict = {"flags": set()}
        key = None
        obsolete = False
        for line in block.splitlines():
            if line.startswith("#~"):
                obsolete = True
            elif line.startswith("#,"):
                entry["flags"].update(flag.strip() for flag in line[2:].split(","))
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                entry[key] += _unquote(line)
            else:
                key, value = line.split(" ", 1)
                entry[key] = _unquote(value)
        if not obsolete and "msgid" in entry:
            entries.append(entry)
    return entries


def po_catalog(entries: list[dict]) -> dict:
    """What msgfmt puts into the .mo: translated, non-fuzzy entries (the header always)."""
    catalog = {}
    for entry in entries:
        if "fuzzy" in entry["flags"] and entry["msgid"]:
            continue
        msgid = entry["msgid"]
        if "msgctxt" in entry:
            msgid = f"{entry['msgctxt']}\x04{msgid}"
        if "msgid_plural" in entry:
            forms = {k: v for k, v in entry.items() if k.startswith("msgstr[")}
            if all(forms.values()):
                for key, value in forms.items():
                    catalog[(msgid, int(key[7:-1]))] = value
        elif entry["msgstr"]:
            catalog[msgid] = entry["msgstr"]
    return catalog


def mo_catalog(path: Path) -> dict:
    with path.open("rb") as fp:
        return dict(gettext.GNUTranslations(fp)._catalog)


def without_pot_date(catalog: dict) -> dict:
    """Newer msgfmt leaves POT-Creation-Date out of the .mo header (reproducible builds)."""
    header = re.sub(r"^POT-Creation-Date: .*\n", "", catalog.get("", ""), flags=re.MULTILINE)
    return {**catalog, "": header}


def po_path(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / "django.po"


def test_german_catalogue_is_complete_and_reviewed():
    entries = parse_po(po_path("de"))
    header, messages = entries[0], entries[1:]
    assert header["msgid"] == ""
    assert "Language: de\n" in header["msgstr"]
    assert "Plural-Forms: nplurals=2; plural=(n != 1);\n" in header["msgstr"]
    assert len(messages) > 100

    untranslated, fuzzy, mismatched = [], [], []
    for entry in entries:
        if "fuzzy" in entry["flags"]:
            fuzzy.append(entry["msgid"])
        if not entry["msgid"]:
            continue
        if "msgid_plural" in entry:
            translations = [entry["msgstr[0]"], entry["msgstr[1]"]]
            sources = [entry["msgid"], entry["msgid_plural"]]
        else:
            translations, sources = [entry["msgstr"]], [entry["msgid"]]
        if not all(text.strip() for text in translations):
            untranslated.append(entry["msgid"])
            continue
        for source, text in zip(sources, translations, strict=True):
            if sorted(_PLACEHOLDER.findall(source)) != sorted(_PLACEHOLDER.findall(text)):
                mismatched.append((source, text))
    assert untranslated == [], "German translation missing"
    assert fuzzy == [], "fuzzy entries: review them and remove the flag"
    assert mismatched == [], "placeholders differ between English and German"


def test_both_catalogues_cover_the_same_strings():
    def msgids(language):
        return {(e.get("msgctxt"), e["msgid"], e.get("msgid_plural")) for e in parse_po(po_path(language))}

    assert set(LANGUAGES) == {"de", "en"}
    assert msgids("de") == msgids("en")


@pytest.mark.parametrize("language", LANGUAGES)
def test_committed_mo_matches_po(language):
    po, mo = po_path(language), po_path(language).with_suffix(".mo")
    assert mo.exists(), f"{mo} missing: run `make messages` and commit the .mo"
    assert without_pot_date(mo_catalog(mo)) == without_pot_date(po_catalog(parse_po(po))), (
        f"{mo} is stale: run `make messages`"
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_msgfmt_compiles_po_to_the_committed_mo(language, tmp_path):
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        missing("GNU gettext (msgfmt) not installed")
    po, mo = po_path(language), po_path(language).with_suffix(".mo")
    fresh = tmp_path / "django.mo"
    # The same call as compilemessages: format strings must match their msgid.
    result = subprocess.run(
        [msgfmt, "--check-format", "-o", str(fresh), str(po)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    # Equal in content: byte layout may differ between gettext versions, the messages may not.
    assert mo_catalog(fresh) == mo_catalog(mo), f"{mo} is stale: run `make messages`"
