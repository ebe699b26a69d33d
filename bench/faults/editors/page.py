"""The editors drill's page: what a reader's browser holds, as the live client changes it."""

from __future__ import annotations

import asyncio
import collections
import re
from dataclasses import dataclass
from datetime import datetime

from bench.common import LiveReader, http_get

ARTICLE = re.compile(r'<article id="post-(\d+)".*?</article>', re.DOTALL)
ARTICLE_KEY = re.compile(r'<article id="post-(\d+)"[^>]*?\sdata-published="([^"]+)"')
DATA_SEQ = re.compile(r'data-seq="(\d+)"')
OLDER_CURSOR = re.compile(
    r'<p class="load-older"\s+data-post="(\d+)"\s+data-published="([^"]+)">\s*<a href="[^"]*?cursor=(\d+)"'
)

SortKey = tuple[datetime, int]  # the page's order, newest first: (published_at, pk) descending


def sort_key(article: str) -> SortKey:
    """An article's place in the page's order, from its markup (the live client's keyOf)."""
    match = ARTICLE_KEY.match(article)
    if match is None:
        raise ValueError(f"no id and data-published in {article[:80]!r}")
    return datetime.fromisoformat(match.group(2)), int(match.group(1))


@dataclass
class Page:
    seq: int
    posts: list[tuple[int, str]]  # (pk, article markup) in page order
    cursor: int | None  # "Load older posts" continues after this post; None: nothing older
    cursor_key: SortKey | None = None  # that post's place (the link's data-published, data-post)


def parse_page(body: str, *, fragment: bool = False) -> Page:
    """The reader page (or the htmx "older posts" fragment): its seq, articles and older-cursor."""
    seq = 0
    if not fragment:
        match = DATA_SEQ.search(body)
        if match is None:
            raise ValueError("no data-seq on the page")
        seq = int(match.group(1))
    posts = [(int(m.group(1)), m.group(0).strip()) for m in ARTICLE.finditer(body)]
    link = OLDER_CURSOR.search(body)
    if link is None:
        return Page(seq, posts, None)
    pk, published, cursor = int(link.group(1)), link.group(2), int(link.group(3))
    if pk != cursor:
        raise ValueError(f"load-older's data-post {pk} is not its cursor {cursor}")
    return Page(seq, posts, cursor, (datetime.fromisoformat(published), pk))


async def get_text(
    port: int, path: str, local_host: str, headers: dict[str, str] | None = None, timeout: float = 15.0
) -> tuple[int, str]:
    """One HTTP GET to Daphne, bounded by `timeout`; (status, body as text)."""
    status, body = await asyncio.wait_for(
        http_get(port, path, local_host=local_host, headers=headers), timeout
    )
    return status, body.decode("utf-8", errors="replace")


class EditorsReader(LiveReader):
    """A LiveReader that also holds the page's post elements, as the live client's `place()` changes them.

    Counts, at apply time, an event seq applied twice by this page and a post that would be on the
    page twice (see the module's docstring: the live client skips or drops the second copy now; counting it
    shows that place() put it there). `present` (what the Drill reads) stays the set of ids on
    the page.
    """

    def __init__(self, port: int, slug: str, page: Page, **kwargs) -> None:
        super().__init__(port, slug, last_seq=page.seq, present={pk for pk, _ in page.posts}, **kwargs)
        self.dom: dict[int, list[str]] = {}  # post id -> markup of each element with that id
        self.cursor = page.cursor
        self.cursor_key = page.cursor_key
        self.page_seq = page.seq
        self.applied: set[int] = set()
        self.dup_seq = 0
        self.dup_insert = 0  # by an event, or held back and found on the page by "Show new updates"
        self.dup_older = 0  # brought by "Load older posts" and found on the page
        # Why the element a "Load older posts" page repeated was there: the kind of the event that
        # inserted it, "show-new-updates", or "page" (it came with the page).
        self.dup_older_by: collections.Counter[str] = collections.Counter()
        self.inserted_by: dict[int, str] = {}
        self.older_pages = 0
        self.away = False
        self.pending: dict[int, str] = {}  # new posts held back while away (the live client's `pending`)
        # While "Load older posts" is on its way: post id -> the newest markup of each post below
        # the link that an event changed (None: deleted) meanwhile (the live client's `loadingOlder`).
        self.loading: dict[int, str | None] | None = None
        for pk, html in page.posts:
            self._insert(pk, html)

    def _insert(self, pk: int, html: str) -> bool:
        """Insert an element; whether one with this id was already there."""
        elements = self.dom.setdefault(pk, [])
        elements.append(html)
        self.present.add(pk)
        return len(elements) > 1

    def _below(self, html: str, cursor_key: SortKey | None) -> bool:
        """The live client's belowOlder(): the post sorts after the one "Load older posts" continues from."""
        return cursor_key is not None and sort_key(html) < cursor_key

    def _apply(self, event: dict) -> None:
        seq = event.get("seq")
        if seq in self.applied:
            self.dup_seq += 1
        self.applied.add(seq)
        if event.get("kind") == "blog.archived":
            self.archived = True
            self.stop()
        elif event.get("post_id"):
            self.place(int(event["post_id"]), (event.get("html") or "").strip(), event.get("kind", ""))

    def place(self, pk: int, html: str, kind: str = "") -> None:
        """As the live client places a post: remove, replace, leave to "Load older", hold back, insert."""
        elements = self.dom.get(pk)
        if not html:
            if elements:  # every element with the id
                del self.dom[pk]
                self.present.discard(pk)
            self.pending.pop(pk, None)
            if self.loading is not None:
                self.loading[pk] = None
            return
        self.pending.pop(pk, None)  # placed now, or held back again below
        if elements:
            elements[0] = html
        elif self._below(html, self.cursor_key):
            if self.loading is not None:
                self.loading[pk] = html
        elif self.away:
            self.pending[pk] = html
        else:
            self.dup_insert += self._insert(pk, html)
            self.inserted_by[pk] = kind

    def show_pending(self) -> None:
        """The "Show N new updates" button (the live client showPending): what is not on the page by now."""
        pending, self.pending = self.pending, {}
        for pk, html in pending.items():
            if pk in self.dom:
                self.dup_insert += 1  # the live client skips it: the copy on the page is newer
                continue
            self._insert(pk, html)
            self.inserted_by[pk] = "show-new-updates"

    async def load_all_older(self, max_pages: int = 500) -> None:
        """Click "Load older posts" until there is no more (htmx appends the fragment's posts).

        As the live client mergeOlder() changes the fragment: a post already on the page is dropped, one
        an event changed while the request was on its way comes in that version (or not, if
        deleted), and changed posts the answer lacks join it if they sort above its own link.
        """
        while self.cursor is not None and self.older_pages < max_pages and not self.stopped:
            if self.loading is None:  # htmx:beforeRequest
                self.loading = {}
            status, body = await get_text(
                self.port,
                f"/live/{self.slug}/?cursor={self.cursor}",
                self.local_host,
                {"HX-Request": "true", "Accept": "text/html"},
            )
            changes, self.loading = self.loading, None  # htmx:beforeSwap
            if status != 200:
                raise RuntimeError(f"load older answered {status}")
            page = parse_page(body, fragment=True)
            for pk, html in page.posts:
                changed = pk in changes
                change = changes.pop(pk, None)
                if pk in self.dom:
                    self.dup_older += 1
                    self.dup_older_by[self.inserted_by.get(pk, "page")] += 1
                elif not changed or change is not None:
                    self._insert(pk, change if changed else html)
            for pk, html in changes.items():
                if html is not None and pk not in self.dom and not self._below(html, page.cursor_key):
                    self._insert(pk, html)
            self.cursor, self.cursor_key = page.cursor, page.cursor_key
            self.older_pages += 1

    def drop_socket(self) -> bool:
        """The network goes away under an open socket (close 1006); whether one was open."""
        socket = self._socket
        if socket is None:
            return False
        socket.transport.abort()
        return True
