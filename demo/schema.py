"""The demo's content files in demo/content/: their shape, and a reader that checks every entry.

Editors change the demo by editing JSON, not Python. A slip there must be reported naming the file
and the entry at fault, before anything is written, instead of surfacing as a KeyError halfway
through loading. The format is described in demo/content/README.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from posts.models import LiveBlog

CONTENT_DIR = Path(__file__).resolve().parent / "content"
_PROJECT_DIR = Path(__file__).resolve().parent.parent
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
_REQUIRED: Any = object()  # a default meaning "the key must be there"


class ContentError(ValueError):
    """A content file is missing, is not JSON, or has an entry of the wrong shape."""


@dataclass(frozen=True)
class DemoAuthor:
    slug: str
    name: str
    role: str
    bio: str
    color: tuple[int, int, int]  # of the generated avatar's disc
    is_editor: bool = False  # linked to the `redaktion` login

    @property
    def initials(self) -> str:
        return "".join(part[0] for part in self.name.split()[:2]).upper()


@dataclass(frozen=True)
class DemoChart:
    """The generated bar chart (demo/pictures.py) shown with a post, and the texts that go with it."""

    alt: str
    caption: str = ""
    credit: str = ""


@dataclass(frozen=True)
class DemoPost:
    minutes: int  # after the blog's anchor hour; negative is before it
    headline: str
    body: str
    authors: tuple[str, ...]  # author slugs
    is_important: bool = False
    is_pinned: bool = False
    source: str = ""
    chart: DemoChart | None = None


@dataclass(frozen=True)
class DemoBlog:
    slug: str
    language: str
    kicker: str
    title: str
    teaser: str
    credit_line: str
    topic_title: str
    topic_url: str
    anchor_hour: int  # local hour the minutes of its posts count from
    days_before: int  # how many days before the demo evening it happened
    archive: bool
    posts: tuple[DemoPost, ...]

    @property
    def first_minutes(self) -> int:
        return min(post.minutes for post in self.posts)

    @property
    def last_minutes(self) -> int:
        return max(post.minutes for post in self.posts)


@dataclass(frozen=True)
class DemoContent:
    authors: tuple[DemoAuthor, ...]
    blogs: tuple[DemoBlog, ...]  # the most recent first: the order they are created in


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(_PROJECT_DIR))
    except ValueError:
        return str(path)


def _shown(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


class _Entry:
    """One JSON object being read; every complaint names the file and the entry."""

    def __init__(self, data: object, file: Path, where: str) -> None:
        self.file, self.where, self.seen = file, where, set[str]()
        if not isinstance(data, dict):
            self.fail(f"expected an object, got {_shown(data)}")
        self.data: dict[str, Any] = data

    def fail(self, message: str) -> NoReturn:
        raise ContentError(f"{_display(self.file)}, {self.where}: {message}")

    def _get(self, key: str, kind: type, wanted: str, default: Any) -> Any:
        self.seen.add(key)
        if key not in self.data:
            if default is _REQUIRED:
                self.fail(f'"{key}" is missing')
            return default
        value = self.data[key]
        # bool is an int to Python, but `true` where a number belongs is a mistake.
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            self.fail(f'"{key}" must be {wanted}, got {_shown(value)}')
        return value

    def text(self, key: str, default: str = _REQUIRED) -> str:
        value: str = self._get(key, str, "text", default)
        if default is _REQUIRED and not value.strip():
            self.fail(f'"{key}" is empty')
        return value

    def number(self, key: str, low: int | None = None, high: int | None = None) -> int:
        value: int = self._get(key, int, "a whole number", _REQUIRED)
        if (low is not None and value < low) or (high is not None and value > high):
            self.fail(f'"{key}" must be between {low} and {high}, got {value}')
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        value: bool = self._get(key, bool, "true or false", default)
        return value

    def texts(self, key: str) -> list[str]:
        values: list[Any] = self._get(key, list, "a list of texts", _REQUIRED)
        if not values or not all(isinstance(v, str) and v.strip() for v in values):
            self.fail(f'"{key}" must be a non-empty list of non-empty texts')
        return values

    def objects(self, key: str) -> list[Any]:
        values: list[Any] = self._get(key, list, "a list", _REQUIRED)
        if not values:
            self.fail(f'"{key}" is empty')
        return values

    def section(self, key: str) -> _Entry | None:
        """A nested object as an entry of its own, or None when the key is absent."""
        value = self._get(key, dict, "an object", None)
        return None if value is None else _Entry(value, self.file, f"{self.where}, {key}")

    def close(self) -> None:
        """Refuse keys nobody reads: a misspelt "is_importnat" would otherwise vanish silently."""
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            quoted = ", ".join(f'"{k}"' for k in unknown)
            known = ", ".join(f'"{k}"' for k in sorted(self.seen))
            self.fail(f"unknown key(s) {quoted}; known are {known}")


def _label(noun: str, index: int, data: object, key: str) -> str:
    name = data.get(key) if isinstance(data, dict) else None
    return f'{noun} {index + 1} ("{name}")' if isinstance(name, str) and name else f"{noun} {index + 1}"


def _read_json(file: Path) -> object:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ContentError(f"{_display(file)}: the file is missing") from None
    except UnicodeDecodeError:
        raise ContentError(f"{_display(file)}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ContentError(
            f"{_display(file)}, line {exc.lineno} column {exc.colno}: not valid JSON ({exc.msg})"
        ) from None


def _slug(entry: _Entry) -> str:
    slug = entry.text("slug")
    if not _SLUG.fullmatch(slug):
        entry.fail(f'"slug" must be lower-case letters, digits and hyphens, got "{slug}"')
    return slug


def _author(entry: _Entry) -> DemoAuthor:
    slug, name = _slug(entry), entry.text("name")
    role, bio, color = entry.text("role"), entry.text("bio"), entry.text("color")
    if not _COLOR.fullmatch(color):
        entry.fail(f'"color" must look like "#106e78", got "{color}"')
    rgb = (int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16))
    author = DemoAuthor(slug, name, role, bio, rgb, is_editor=entry.flag("is_editor"))
    entry.close()
    return author


def _read_authors(file: Path) -> tuple[DemoAuthor, ...]:
    top = _Entry(_read_json(file), file, "top level")
    items = top.objects("authors")
    top.close()
    authors = [_author(_Entry(item, file, _label("author", i, item, "slug"))) for i, item in enumerate(items)]
    slugs = [a.slug for a in authors]
    if len(set(slugs)) != len(slugs):
        top.fail(
            f"author slugs must be unique: {', '.join(sorted({s for s in slugs if slugs.count(s) > 1}))}"
        )
    if sum(a.is_editor for a in authors) > 1:
        top.fail('at most one author can have "is_editor": true (the one login the demo creates)')
    return tuple(authors)


def _post(entry: _Entry, author_slugs: set[str]) -> DemoPost:
    minutes, headline = entry.number("minutes"), entry.text("headline")
    authors = entry.texts("authors")
    unknown = [slug for slug in authors if slug not in author_slugs]
    if unknown:
        entry.fail(
            f"unknown author(s) {', '.join(unknown)}; authors.json has {', '.join(sorted(author_slugs))}"
        )
    if len(set(authors)) != len(authors):
        entry.fail('"authors" names someone twice')
    chart, section = None, entry.section("chart")
    if section is not None:
        chart = DemoChart(section.text("alt"), section.text("caption", ""), section.text("credit", ""))
        section.close()
    post = DemoPost(
        minutes=minutes,
        headline=headline,
        # One HTML block per list item, so the file reads paragraph by paragraph.
        body="".join(entry.texts("body")),
        authors=tuple(authors),
        is_important=entry.flag("is_important"),
        is_pinned=entry.flag("is_pinned"),
        source=entry.text("source", ""),
        chart=chart,
    )
    entry.close()
    return post


def _read_blog(file: Path, author_slugs: set[str]) -> DemoBlog:
    top = _Entry(_read_json(file), file, "top level")
    fields = {"slug": _slug(top), "language": top.text("language")}
    if fields["language"] not in LiveBlog.Language.values:
        top.fail(f'"language" must be one of {", ".join(LiveBlog.Language.values)}')
    for key in ("kicker", "title", "teaser", "credit_line", "topic_title", "topic_url"):
        fields[key] = top.text(key)
    items = top.objects("posts")
    posts = tuple(
        _post(_Entry(item, file, _label("post", i, item, "headline")), author_slugs)
        for i, item in enumerate(items)
    )
    minutes = [p.minutes for p in posts]
    if len(set(minutes)) != len(minutes):
        top.fail('two posts have the same "minutes"; readers would see them in no clear order')
    if sum(p.is_pinned for p in posts) > 1:
        top.fail('at most one post can have "is_pinned": true (pinning one unpins the other)')
    blog = DemoBlog(
        **fields,
        anchor_hour=top.number("anchor_hour", 0, 23),
        days_before=top.number("days_before", 0, 365),
        archive=top.flag("archive", default=_REQUIRED),
        posts=posts,
    )
    top.close()
    return blog


def read_content(directory: Path | None = None) -> DemoContent:
    """Read and check authors.json and blogs/*.json; raise ContentError on the first fault."""
    directory = directory or CONTENT_DIR
    authors = _read_authors(directory / "authors.json")
    files = sorted((directory / "blogs").glob("*.json"))
    if not files:
        raise ContentError(f"{_display(directory / 'blogs')}: no blog files (*.json)")
    blogs = [_read_blog(file, {a.slug for a in authors}) for file in files]
    for file, blog in zip(files, blogs, strict=True):
        if [b.slug for b in blogs].count(blog.slug) > 1:
            raise ContentError(f'{_display(file)}: another blog file has the slug "{blog.slug}" too')
    # Most recent first, by file name among equals: the order the demo has always been created in.
    return DemoContent(tuple(authors), tuple(sorted(blogs, key=lambda b: b.days_before)))
