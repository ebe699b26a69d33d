"""Drill "editors": several editors publish at once while readers resume at random moments.

    .venv/bin/python bench/faults.py --scenario editors

A plugin of bench/faults.py (see PLUGIN_MODULES there). Each run:

1. A fresh live blog; --editors-readers readers load its page from Daphne and follow it as
   static/js/live.js does (bench/reader.py's LiveReader, subclassed here to model the page).
2. --editors-count editor *processes* (this file, `--editor-worker`) publish --editors-posts posts in
   total, as fast as posts.services allows, against the same database. After each new post an
   editor also edits (--editors-edit-rate), flags or unflags as important (--editors-important-rate)
   or deletes (--editors-delete-rate) one of its own earlier posts (mostly recent ones).
3. Meanwhile every reader resumes at random moments (a Poisson process, --editors-resume-rate per
   reader and second): mostly its socket drops (the transport is aborted: close 1006, so the
   reader reconnects after live.js's backoff and catches up from its last applied seq), sometimes
   (--editors-reload-share) it reloads: a fresh page from the server (data-seq, the newest 20 posts
   and the "Load older posts" cursor), then a catch-up and a socket, as live.js starts.
4. When the editors are done, every reader must show exactly the database's visible posts, each in
   its current version (the markup the server renders now), and have applied the blog's last seq.

Why processes, not threads: in production editors save through separate web workers, so their
transactions contend for the blog's row lock from separate processes and their broadcasts reach
Daphne through Redis from separate processes, overtaking each other (which is what makes readers
buffer and catch up). Threads in this process would also share one GIL with the 50 readers' event
loop, so publishing would slow the readers down and vice versa, and the publish rate would measure
the GIL, not the database.

What a reader shows is modelled on the DOM, as live.js changes it (`place()`): an event with markup
replaces the element with the post's id; where there is none, it is left out if the post sorts
below the page's "Load older posts" (that request brings it), held back while the reader is "away"
(scrolled down or paused, --editors-away-rate; "Show new updates" inserts what is held back and not
on the page by then), or inserted. "" removes every element with the id and what is held back. A
reloaded page holds only the newest 20 posts; the rest are behind "Load older posts" (an htmx GET
of `?cursor=<pk>`, the link's data-post; whose posts are appended, except those already on the
page, with the changes events made while it was on its way). Editors here never pin, so the pinned
slot is not modelled. So:

- missed = a visible post that should be on the page but is not, or shows an outdated version
  (posts behind a reloaded page's "Load older posts" count only once a reader clicks through);
- duplicated = an event seq applied twice by one page, or a post that would be on the page twice:
  inserted while one with its id is present (by an event), or found on the page already by "Show
  new updates" or by "Load older posts". live.js now skips or drops such copies, but one counted
  here means place() put a post where the button or the link brings it again (the bugs these
  counters found). After settling, --editors-older-clicks reloaded readers per run click "Load
  older posts" to the end and are then checked in full; for the others the drill counts the posts
  that such clicks would duplicate (older_dup_risk: posts that live events put below the reloaded
  page's cursor).

One line per run, then one aggregated Outcome. The whole scenario is bounded by `timeout(args)`
(--editors-timeout, default 90 s per run + 120 s): runs stop early when the next would not fit,
and the aggregate says how many ran.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import random
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import faults
from reader import LiveReader, source_address, unchunk

NAME = "editors"
ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def timeout(args) -> float:
    """The whole scenario's bound in seconds (faults.py uses it instead of --scenario-timeout)."""
    return args.editors_timeout or 120.0 + 90.0 * args.editors_runs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("editors scenario")
    group.add_argument("--editors-runs", type=int, default=20)
    group.add_argument(
        "--editors-timeout", type=float, default=0.0, help="bound for all runs, s (0: 90 s per run + 120 s)"
    )
    group.add_argument("--editors-posts", type=int, default=1000, help="new posts per run, all editors")
    group.add_argument("--editors-count", type=int, default=4, help="editor processes")
    group.add_argument("--editors-readers", type=int, default=50)
    group.add_argument(
        "--editors-resume-rate",
        type=float,
        default=0.2,
        help="resumes per reader and second while publishing",
    )
    group.add_argument("--editors-reload-share", type=float, default=0.3, help="of resumes: page reloads")
    group.add_argument("--editors-edit-rate", type=float, default=0.15, help="edits per new post")
    group.add_argument(
        "--editors-important-rate", type=float, default=0.10, help="important toggles per post"
    )
    group.add_argument("--editors-delete-rate", type=float, default=0.05, help="deletes per new post")
    group.add_argument("--editors-interval", type=float, default=0.0, help="each editor's pause per post, s")
    group.add_argument(
        "--editors-away-rate",
        type=float,
        default=0.0,
        help="per reader and second: scroll away for a while, come back, click 'Show new updates'",
    )
    group.add_argument(
        "--editors-older-clicks",
        type=int,
        default=3,
        help="reloaded readers per run that click 'Load older posts' to the end before the check",
    )
    group.add_argument("--editors-publish-timeout", type=float, default=300.0)


# ---- the page, as a browser holds it ------------------------------------------------------------

ARTICLE = re.compile(r'<article id="post-(\d+)".*?</article>', re.DOTALL)
ARTICLE_KEY = re.compile(r'<article id="post-(\d+)"[^>]*? data-published="([^"]+)"')
DATA_SEQ = re.compile(r'data-seq="(\d+)"')
OLDER_CURSOR = re.compile(
    r'<p class="load-older" data-post="(\d+)" data-published="([^"]+)"><a href="[^"]*?cursor=(\d+)"'
)

SortKey = tuple[datetime, int]  # the page's order, newest first: (published_at, pk) descending


def sort_key(article: str) -> SortKey:
    """An article's place in the page's order, from its markup (live.js keyOf)."""
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


async def http_get(
    port: int, path: str, local_host: str, headers: dict[str, str] | None = None, timeout: float = 15.0
) -> tuple[int, str]:
    """One HTTP/1.1 GET to Daphne (Connection: close); (status, body)."""

    async def get() -> tuple[int, bytes, bytes]:
        stream, writer = await asyncio.open_connection(HOST, port, local_addr=(local_host, 0))
        try:
            extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
            writer.write(
                f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n{extra}Connection: close\r\n\r\n".encode()
            )
            raw = await stream.read(-1)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        head, _, body = raw.partition(b"\r\n\r\n")
        return int(head.split(b" ", 2)[1]), head, body

    status, head, body = await asyncio.wait_for(get(), timeout)
    if b"transfer-encoding: chunked" in head.lower():
        body = unchunk(body)
    return status, body.decode("utf-8", errors="replace")


class EditorsReader(LiveReader):
    """A LiveReader that also holds the page's post elements, as live.js's `place()` changes them.

    Counts, at apply time, an event seq applied twice by this page and a post that would be on the
    page twice (see the module's docstring: live.js skips or drops the second copy now; counting it
    shows that place() put it there). `present` (what faults.Drill reads) stays the set of ids on
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
        self.pending: dict[int, str] = {}  # new posts held back while away (live.js `pending`)
        # While "Load older posts" is on its way: post id -> the newest markup of each post below
        # the link that an event changed (None: deleted) meanwhile (live.js `loadingOlder`).
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
        """live.js belowOlder(): the post sorts after the one "Load older posts" continues from."""
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
        """live.js place(): remove, replace in place, leave to "Load older posts", hold back, or insert."""
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
        """The "Show N new updates" button (live.js showPending): what is not on the page by now."""
        pending, self.pending = self.pending, {}
        for pk, html in pending.items():
            if pk in self.dom:
                self.dup_insert += 1  # live.js skips it: the copy on the page is newer
                continue
            self._insert(pk, html)
            self.inserted_by[pk] = "show-new-updates"

    async def load_all_older(self, max_pages: int = 500) -> None:
        """Click "Load older posts" until there is no more (htmx appends the fragment's posts).

        As live.js mergeOlder() changes the fragment: a post already on the page is dropped, one
        an event changed while the request was on its way comes in that version (or not, if
        deleted), and changed posts the answer lacks join it if they sort above its own link.
        """
        while self.cursor is not None and self.older_pages < max_pages and not self.stopped:
            if self.loading is None:  # htmx:beforeRequest
                self.loading = {}
            status, body = await http_get(
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


@dataclass
class Check:
    missing: int = 0  # should be on the page, is not
    stale: int = 0  # on the page in an outdated version
    extra: int = 0  # on the page, not visible in the database
    dup_elements: int = 0  # elements beyond the first with one id, now
    older_dup_risk: int = 0  # below a reloaded page's cursor: "Load older posts" will repeat them
    behind: bool = False

    @property
    def converged(self) -> bool:
        """Nothing left that waiting could still fix (duplicate elements stay)."""
        return not (self.missing or self.stale or self.extra or self.behind)

    @property
    def complete(self) -> bool:
        return self.converged and not self.dup_elements


@dataclass
class Final:
    last_seq: int
    html: dict[int, str]  # visible post id -> current markup
    keys: dict[int, tuple]  # every post id (deleted too) -> (published_at, pk), the page's order


def check(reader: EditorsReader, final: Final) -> Check:
    out = Check(behind=reader.last_seq < final.last_seq)
    cursor_key = final.keys.get(reader.cursor) if reader.cursor is not None else None
    for pk, html in final.html.items():
        elements = reader.dom.get(pk)
        below = cursor_key is not None and final.keys[pk] < cursor_key
        if below and elements:
            out.older_dup_risk += 1
        if not elements:
            out.missing += not below
        elif elements[0] != html:
            out.stale += 1
    out.extra = sum(1 for pk in reader.dom if pk not in final.html)
    out.dup_elements = sum(len(e) - 1 for e in reader.dom.values())
    return out


def final_state(blog_id: int) -> Final:
    """The blog's last seq and every visible post's markup as events render it (posts/broadcast.py)."""
    from django.db import close_old_connections
    from django.template.loader import render_to_string
    from django.utils import timezone, translation

    from posts.models import LiveBlog, Post

    close_old_connections()
    blog = LiveBlog.objects.get(pk=blog_id)
    posts = (
        Post.objects.filter(live_blog=blog)
        .select_related("live_blog")
        .prefetch_related("post_authors__author")
    )
    html, keys = {}, {}
    with translation.override(blog.language), timezone.override(blog.time_zone):
        for post in posts:
            keys[post.pk] = (post.published_at, post.pk)
            if not post.is_deleted:
                html[post.pk] = render_to_string("posts/liveblog_detail.html#post", {"post": post}).strip()
    return Final(blog.last_seq, html, keys)


# ---- the readers of one run ---------------------------------------------------------------------


@dataclass
class Tally:
    """Figures of readers that were replaced by a reload (their page is gone, their counts stay)."""

    catchups: int = 0
    catchup_failures: int = 0
    catchup_5xx: int = 0
    pushed: int = 0
    dup_seq: int = 0
    dup_insert: int = 0
    reconnect: list[float] = field(default_factory=list)

    def add(self, reader: EditorsReader) -> None:
        self.catchups += reader.stats.catchup_requests
        self.catchup_failures += reader.stats.catchup_failures
        self.catchup_5xx += reader.stats.catchup_5xx
        self.pushed += reader.stats.pushed_events
        self.dup_seq += reader.dup_seq
        self.dup_insert += reader.dup_insert
        self.reconnect += reader.stats.reconnect_seconds


class Crowd:
    """The run's readers, one slot each; a reload replaces the slot's reader with a fresh page."""

    def __init__(self, drill, port: int, slug: str, count: int, rng: random.Random) -> None:
        self.drill = drill
        self.port = port
        self.slug = slug
        self.count = count
        self.rng = rng
        self.readers: list[EditorsReader | None] = [None] * count
        self.tasks: list[asyncio.Task | None] = [None] * count
        self.busy: set[int] = set()  # slots being reloaded or away
        self.chores: set[asyncio.Task] = set()
        self.retired = Tally()
        self.drops = 0
        self.drops_missed = 0  # the socket was not open at that moment (reconnecting)
        self.reloads = 0
        self.reload_failures = 0
        self.aways = 0

    def local_host(self, slot: int) -> str:
        return source_address(slot, self.drill.args.per_address)

    async def open(self, slot: int) -> None:
        """Load the page (bounded retries), then start following it as live.js does."""
        page, error = None, None
        for attempt in range(10):
            try:
                status, body = await http_get(self.port, f"/live/{self.slug}/", self.local_host(slot))
                if status == 200:
                    page = parse_page(body)
                    break
                error = f"page answered {status}"
            except (OSError, TimeoutError, ValueError) as failure:
                error = repr(failure)
            await asyncio.sleep(0.2 * (attempt + 1))
        if page is None:
            raise RuntimeError(f"reader {slot} could not load the page: {error}")
        reader = EditorsReader(
            self.port,
            self.slug,
            page,
            local_host=self.local_host(slot),
            rng=random.Random(self.rng.random()),
        )
        self.readers[slot] = reader
        self.tasks[slot] = asyncio.create_task(reader.run())

    async def open_all(self) -> None:
        batch = self.drill.args.concurrency
        for start in range(0, self.count, batch):
            slots = range(start, min(start + batch, self.count))
            await asyncio.gather(*(self.open(slot) for slot in slots))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(self.readers[s].connected.wait() for s in slots)), 60)
        connected = sum(r.connected.is_set() for r in self.readers)
        if connected < self.count:
            print(f"  warning: {connected}/{self.count} readers connected", file=sys.stderr, flush=True)

    async def close(self, slot: int) -> None:
        reader, task = self.readers[slot], self.tasks[slot]
        if reader is None or task is None:
            return
        reader.stop()
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(task), 5)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await reader.shutdown()

    def _chore(self, slot: int, coro) -> None:
        self.busy.add(slot)
        task = asyncio.create_task(coro)
        self.chores.add(task)
        task.add_done_callback(self.chores.discard)
        task.add_done_callback(lambda _: self.busy.discard(slot))

    def drop(self, slot: int) -> None:
        if self.readers[slot].drop_socket():
            self.drops += 1
        else:
            self.drops_missed += 1

    def reload(self, slot: int) -> None:
        async def reload() -> None:
            old = self.readers[slot]
            await self.close(slot)
            self.retired.add(old)
            try:
                await self.open(slot)
                self.reloads += 1
            except RuntimeError as error:
                self.reload_failures += 1
                print(f"  {error}"[:200], file=sys.stderr, flush=True)
                self.readers[slot] = old  # keep its (stopped) page for the check: it will fail

        self._chore(slot, reload())

    def step_away(self, slot: int) -> None:
        """Scroll down for a while (new posts are held back), come back up, later click the button."""

        async def away() -> None:
            reader = self.readers[slot]
            reader.away = True
            await asyncio.sleep(0.5 + self.rng.random() * 2.5)
            reader.away = False
            await asyncio.sleep(self.rng.random() * 2.0)
            reader.show_pending()

        self.aways += 1
        self._chore(slot, away())

    async def chaos(self, until: asyncio.Event) -> None:
        """Resumes (and, if asked, away spells) at random moments, until `until` is set."""
        args, tick = self.drill.args, 0.05
        while not until.is_set():
            for slot in range(self.count):
                if slot in self.busy:
                    continue
                if self.rng.random() < args.editors_resume_rate * tick:
                    if self.rng.random() < args.editors_reload_share:
                        self.reload(slot)
                    else:
                        self.drop(slot)
                elif self.rng.random() < args.editors_away_rate * tick:
                    self.step_away(slot)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(until.wait(), tick)

    async def finish_chores(self, timeout: float = 60.0) -> None:
        if self.chores:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*self.chores, return_exceptions=True), timeout)
        for reader in self.readers:  # nobody stays away: the check wants what they would see
            reader.away = False
            reader.show_pending()

    async def close_all(self) -> None:
        for task in list(self.chores):
            task.cancel()
        await asyncio.gather(*self.chores, return_exceptions=True)
        await asyncio.gather(*(self.close(slot) for slot in range(self.count)), return_exceptions=True)


# ---- the editors: separate processes ------------------------------------------------------------


class Editors:
    """--editors-count worker processes of this file: ready after Django's setup, start on "go"."""

    def __init__(self, drill, blog_id: int, run: int) -> None:
        self.drill = drill
        self.blog_id = blog_id
        self.run = run
        self.processes: list[asyncio.subprocess.Process] = []
        self.results: list[dict] = []

    async def start(self) -> None:
        args = self.drill.args
        env = {**self.drill.env, "DJANGO_CONN_MAX_AGE": "60"}
        count = args.editors_count
        for index in range(count):
            quota = args.editors_posts // count + (index < args.editors_posts % count)
            argv = [
                *("--editor-worker", "--blog-id", str(self.blog_id), "--index", str(index)),
                *("--posts", str(quota), "--seed", f"{args.seed}-{self.run}-{index}"),
                *("--edit-rate", str(args.editors_edit_rate)),
                *("--important-rate", str(args.editors_important_rate)),
                *("--delete-rate", str(args.editors_delete_rate)),
                *("--interval", str(args.editors_interval)),
            ]
            log = (self.drill.logdir / f"editor-{self.run}-{index}.log").open("wb")
            try:
                process = await asyncio.create_subprocess_exec(
                    faults.PYTHON,
                    str(Path(__file__).resolve()),
                    *argv,
                    cwd=ROOT,
                    env=env,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=log,
                )
            finally:
                log.close()
            self.processes.append(process)
        for process in self.processes:
            line = await asyncio.wait_for(process.stdout.readline(), 90)
            if line.strip() != b"ready":
                raise RuntimeError(f"editor {process.pid} did not get ready: {line[:200]!r}")

    def go(self) -> None:
        for process in self.processes:
            process.stdin.write(b"go\n")

    async def wait(self, timeout: float) -> list[dict]:
        async def result(process: asyncio.subprocess.Process) -> dict:
            line = await process.stdout.readline()
            await process.wait()
            if not line.startswith(b"result "):
                raise RuntimeError(f"editor {process.pid} ended with {process.returncode}: {line[:200]!r}")
            return json.loads(line[len(b"result ") :])

        self.results = await asyncio.wait_for(asyncio.gather(*(result(p) for p in self.processes)), timeout)
        return self.results

    async def stop(self) -> None:
        """Each worker by its PID: SIGTERM, SIGKILL after 10 s."""
        for process in self.processes:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 10)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
                    await asyncio.wait_for(process.wait(), 10)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc), or nan."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


# ---- one run ------------------------------------------------------------------------------------


@dataclass
class RunFigures:
    outcome: faults.Outcome
    seconds: float
    events: int = 0
    missed: int = 0
    duplicated: int = 0
    dup_kinds: tuple[int, int, int] = (0, 0, 0)  # dup_seq, dup_insert, dup_older
    resumes: int = 0
    catchups: int = 0
    rate: float = 0.0
    settle: float | None = None
    older_dup_risk: int = 0
    reconnects: list[float] = field(default_factory=list)


async def one_run(drill, number: int, port: int) -> RunFigures:
    args = drill.args
    started = time.monotonic()
    out = faults.Outcome(f"{NAME} {number}/{args.editors_runs}")
    figures = RunFigures(out, 0.0)
    blog_id, slug = await asyncio.to_thread(faults.make_blog, f"editors{number}")
    editors = Editors(drill, blog_id, number)
    crowd = Crowd(drill, port, slug, args.editors_readers, random.Random(drill.rng.random()))
    try:
        # Both start up at once: the editors' Django setup while readers load the page.
        await asyncio.gather(editors.start(), crowd.open_all())
        daphne_cpu = cpu_seconds(drill.daphne.process.pid)
        own_cpu = time.process_time()
        done = asyncio.Event()
        chaos = asyncio.create_task(crowd.chaos(done))
        t0 = time.monotonic()
        editors.go()
        try:
            results = await editors.wait(args.editors_publish_timeout)
        finally:
            done.set()
            await chaos
        published = time.monotonic()
        publish_s = published - t0
        load1 = os.getloadavg()[0]
        await crowd.finish_chores()

        final = await asyncio.to_thread(final_state, blog_id)
        # Settle: every reader complete (reloaded pages: down to their "Load older posts").
        deadline = time.monotonic() + args.settle_seconds
        while time.monotonic() < deadline and not all(check(r, final).converged for r in crowd.readers):
            await asyncio.sleep(0.25)
        settled = all(check(r, final).converged for r in crowd.readers)
        figures.settle = time.monotonic() - published if settled else None
        out.settle = f"{figures.settle:.1f}s" if settled else f">{time.monotonic() - published:.0f}s"
        cpu_window = time.monotonic() - t0
        daphne_cpu = cpu_seconds(drill.daphne.process.pid) - daphne_cpu
        own_cpu = time.process_time() - own_cpu

        # Some reloaded readers scroll to the end: "Load older posts" until there is no more.
        with_cursor = [r for r in crowd.readers if r.cursor is not None]
        clickers = drill.rng.sample(with_cursor, min(args.editors_older_clicks, len(with_cursor)))
        for reader in clickers:
            await reader.load_all_older()
        final = await asyncio.to_thread(final_state, blog_id)  # unchanged; read again to be sure
        checks = [check(r, final) for r in crowd.readers]

        readers = crowd.readers
        out.readers = len(readers)
        out.posts_db = len(final.html)
        out.complete = sum(c.complete for c in checks)
        out.missing = sum(c.missing for c in checks)
        out.extra = sum(c.extra for c in checks)
        stale = sum(c.stale for c in checks)
        behind = sum(c.behind for c in checks)
        dup_seq = crowd.retired.dup_seq + sum(r.dup_seq for r in readers)
        dup_insert = crowd.retired.dup_insert + sum(r.dup_insert for r in readers)
        dup_older = sum(r.dup_older for r in readers)
        dup_older_by = sum((r.dup_older_by for r in readers), collections.Counter())
        catchups = crowd.retired.catchups + sum(r.stats.catchup_requests for r in readers)
        per_reader = [r.stats.catchup_requests for r in readers]
        out.catchups = f"{catchups} (max {max(per_reader, default=0)}/reader)"
        reconnects = crowd.retired.reconnect + [t for r in readers for t in r.stats.reconnect_seconds]
        figures.reconnects = reconnects
        if reconnects:
            out.reconnect = (
                f"p50 {faults.pct(reconnects, 50):.1f} p95 {faults.pct(reconnects, 95):.1f} "
                f"max {max(reconnects):.1f}"
            )
        totals = {
            key: sum(r[key] for r in results)
            for key in (
                *("created", "edited", "important", "deleted", "failed"),
                *("broadcast_failures", "layer_full_drops", "cpu_s"),
            )
        }
        first_error = next((r["first_error"] for r in results if r["first_error"]), "")
        events = final.last_seq
        figures.events = events
        figures.missed = out.missing + stale
        figures.duplicated = dup_seq + dup_insert + dup_older
        figures.dup_kinds = (dup_seq, dup_insert, dup_older)
        figures.resumes = crowd.drops + crowd.reloads
        figures.catchups = catchups
        figures.rate = events / publish_s
        figures.older_dup_risk = sum(c.older_dup_risk for c in checks)
        out.extra_figures.update(
            {
                "events": str(events),
                "created": str(totals["created"]),
                "edited": str(totals["edited"]),
                "important": str(totals["important"]),
                "deleted": str(totals["deleted"]),
                "save_failures": str(totals["failed"]),
                "broadcast_failures": str(totals["broadcast_failures"]),
                # Pushes the channel layer dropped because Daphne's hub channel was full.
                "layer_full_drops": str(totals["layer_full_drops"]),
                "publish_s": f"{publish_s:.1f}",
                "events_per_s": f"{figures.rate:.0f}",
                "missed": str(figures.missed),
                "stale": str(stale),
                "behind": str(behind),
                "duplicated": str(figures.duplicated),
                "dup_seq": str(dup_seq),
                "dup_insert": str(dup_insert),
                "dup_older": f"{dup_older}({len(clickers)} clicked through)",
                "dup_older_inserted_by": ",".join(f"{k}:{n}" for k, n in sorted(dup_older_by.items())) or "-",
                "older_dup_risk": str(figures.older_dup_risk),
                "drops": f"{crowd.drops}(+{crowd.drops_missed} while reconnecting)",
                "reloads": str(crowd.reloads),
                "reload_failures": str(crowd.reload_failures),
                "aways": str(crowd.aways),
                "catchup_failures": str(
                    crowd.retired.catchup_failures + sum(r.stats.catchup_failures for r in readers)
                ),
                "catchup_5xx": str(crowd.retired.catchup_5xx + sum(r.stats.catchup_5xx for r in readers)),
                "pushed": str(crowd.retired.pushed + sum(r.stats.pushed_events for r in readers)),
                "cpu_s": (
                    f"editors:{totals['cpu_s']:.0f}/daphne:{daphne_cpu:.0f}/drill:{own_cpu:.0f}"
                    f"/wall:{cpu_window:.0f}"
                ),
                "load1": f"{load1:.1f}",
            }
        )
        if first_error:
            out.extra_figures["first_save_error"] = repr(first_error[:120])
        out.ok = (
            settled
            and out.complete == len(readers)
            and figures.missed == 0
            and out.extra == 0
            and figures.duplicated == 0
            and behind == 0
            and totals["failed"] == 0
            and crowd.reload_failures == 0
        )
    finally:
        await crowd.close_all()
        await editors.stop()
    figures.seconds = time.monotonic() - started
    return figures


async def run(drill) -> faults.Outcome:
    args = drill.args
    started = time.monotonic()
    daphne = drill.start_daphne("editors")
    runs: list[RunFigures] = []
    stopped_early = ""
    try:
        for number in range(1, args.editors_runs + 1):
            # faults.py bounds the whole scenario with --scenario-timeout: do not start a run that
            # would not fit (estimated from the slowest so far; the first is always tried).
            longest = max((r.seconds for r in runs), default=0.0)
            left = timeout(args) - (time.monotonic() - started)
            if runs and left < 1.3 * longest + 20:
                stopped_early = f"out of the scenario's time ({timeout(args):.0f}s)"
                break
            try:
                figures = await one_run(drill, number, daphne.port)
            except Exception as error:  # this run failed as a whole: say why, go on with the next
                figures = RunFigures(faults.Outcome(f"{NAME} {number}/{args.editors_runs}"), 0.0)
                figures.outcome.extra_figures["error"] = repr(error)[:200]
                figures.seconds = time.monotonic() - started - sum(r.seconds for r in runs)
            figures.outcome.extra_figures["run_s"] = f"{figures.seconds:.0f}"
            print(figures.outcome.line(), flush=True)
            runs.append(figures)
            if daphne.process is None or daphne.process.poll() is not None:
                stopped_early = "Daphne died"
                break
    finally:
        daphne.stop()
    out = faults.Outcome(NAME)
    out.readers = sum(r.outcome.readers for r in runs)
    out.posts_db = sum(r.outcome.posts_db for r in runs)
    out.complete = sum(r.outcome.complete for r in runs)
    out.missing = sum(r.outcome.missing for r in runs)
    out.extra = sum(r.outcome.extra for r in runs)
    settles = [r.settle for r in runs if r.settle is not None]
    unsettled = len(runs) - len(settles)
    out.settle = (f"max {max(settles):.1f}s" if settles else "-") + (
        f" ({unsettled} never)" if unsettled else ""
    )
    out.catchups = str(sum(r.catchups for r in runs))
    reconnects = [t for r in runs for t in r.reconnects]
    if reconnects:
        p50, p95 = faults.pct(reconnects, 50), faults.pct(reconnects, 95)
        out.reconnect = f"p50 {p50:.1f} p95 {p95:.1f} max {max(reconnects):.1f}"
    rates = [r.rate for r in runs]
    out.extra_figures.update(
        {
            "runs": f"{len(runs)}/{args.editors_runs}",
            "passed": str(sum(r.outcome.ok for r in runs)),
            "events": str(sum(r.events for r in runs)),
            "missed": str(sum(r.missed for r in runs)),
            "duplicated": str(sum(r.duplicated for r in runs)),
            "dup_seq": str(sum(r.dup_kinds[0] for r in runs)),
            "dup_insert": str(sum(r.dup_kinds[1] for r in runs)),
            "dup_older": str(sum(r.dup_kinds[2] for r in runs)),
            "older_dup_risk": str(sum(r.older_dup_risk for r in runs)),
            "resumes": str(sum(r.resumes for r in runs)),
            "events_per_s": (
                f"p50 {statistics.median(rates):.0f} min {min(rates):.0f} max {max(rates):.0f}"
                if rates
                else "-"
            ),
            "per_run_missed": "/".join(str(r.missed) for r in runs),
            "per_run_duplicated": "/".join(str(r.duplicated) for r in runs),
            "run_s": f"p50 {statistics.median([r.seconds for r in runs]):.0f}" if runs else "-",
        }
    )
    if stopped_early:
        out.extra_figures["stopped"] = stopped_early
    out.ok = bool(runs) and all(r.outcome.ok for r in runs) and len(runs) == args.editors_runs
    return out


# ---- the editor worker (a separate process) ---------------------------------------------------


def editor_main(argv: list[str]) -> int:
    """One editor: waits for "go" on stdin, publishes, prints `result {json}`."""
    import logging
    import select

    parser = argparse.ArgumentParser(prog="faults_editors.py --editor-worker")
    parser.add_argument("--blog-id", type=int, required=True)
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--posts", type=int, required=True)
    parser.add_argument("--seed", default="1")
    parser.add_argument("--edit-rate", type=float, default=0.15)
    parser.add_argument("--important-rate", type=float, default=0.10)
    parser.add_argument("--delete-rate", type=float, default=0.05)
    parser.add_argument("--interval", type=float, default=0.0)
    parser.add_argument("--go-timeout", type=float, default=180.0)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection

    from posts import services
    from posts.models import LiveBlog, Post

    class Failures(logging.Handler):
        count = 0

        def emit(self, record: logging.LogRecord) -> None:
            Failures.count += 1

    class OverCapacity(logging.Handler):
        """channels_redis drops a group message for a full channel (its capacity, 100 by default)
        and only says so at INFO, in the sending process: "%s of %s channels over capacity"."""

        count = 0

        def emit(self, record: logging.LogRecord) -> None:
            if "over capacity" in str(record.msg) and record.args:
                OverCapacity.count += int(record.args[0])

    broadcast_logger = logging.getLogger("posts.broadcast")
    broadcast_logger.addHandler(Failures(level=logging.ERROR))
    broadcast_logger.propagate = False
    layer_logger = logging.getLogger("channels_redis.core")
    layer_logger.addHandler(OverCapacity(level=logging.INFO))
    layer_logger.setLevel(logging.INFO)
    layer_logger.propagate = False

    rng = random.Random(args.seed)
    blog = LiveBlog.objects.get(pk=args.blog_id)
    print("ready", flush=True)
    readable, _, _ = select.select([sys.stdin], [], [], args.go_timeout)
    if not readable or sys.stdin.readline().strip() != "go":
        return 2

    counts = {"created": 0, "edited": 0, "important": 0, "deleted": 0, "failed": 0}
    own: list[int] = []  # this editor's visible posts, oldest first
    first_error = ""
    started, cpu = time.monotonic(), time.process_time()

    def pick() -> int:
        # Mostly a recent post (a typo, a new detail), sometimes an older one.
        recent = own[-10:]
        return rng.choice(recent) if rng.random() < 0.7 else rng.choice(own)

    def body(n: int, note: str = "") -> str:
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 60)))
        return (
            f"<p>Redaktion {args.index}, Meldung {n}{note}: {words}.</p><p><strong>{words[:40]}</strong></p>"
        )

    def attempt(kind: str, change) -> None:
        nonlocal first_error
        try:
            change()
            counts[kind] += 1
        except Exception as error:  # counted; the drill fails the run
            counts["failed"] += 1
            first_error = first_error or f"{kind}: {error!r}"[:300]

    def publish(n: int) -> None:
        post = services.publish_post(
            Post(live_blog=blog, headline=f"E{args.index} Meldung {n}", body=body(n))
        )
        own.append(post.pk)

    def edit() -> None:
        post = Post.objects.select_related("live_blog").get(pk=pick())
        post.headline = f"{post.headline.split(' (')[0]} (v{post.version + 1})"
        post.body = body(post.pk, f", v{post.version + 1}")
        services.update_post(post, expected_version=post.version)

    def toggle_important() -> None:
        post = Post.objects.select_related("live_blog").get(pk=pick())
        services.set_important(post, not post.is_important)

    def delete() -> None:
        pk = pick()
        services.delete_post(Post.objects.select_related("live_blog").get(pk=pk))
        own.remove(pk)

    try:
        for n in range(args.posts):
            begun = time.monotonic()
            attempt("created", lambda n=n: publish(n))
            for kind, rate, change in (
                ("edited", args.edit_rate, edit),
                ("important", args.important_rate, toggle_important),
                ("deleted", args.delete_rate, delete),
            ):
                if own and rng.random() < rate:
                    attempt(kind, change)
            if args.interval:
                time.sleep(max(0.0, args.interval - (time.monotonic() - begun)))
    finally:
        connection.close()
    result = {
        **counts,
        "broadcast_failures": Failures.count,
        "layer_full_drops": OverCapacity.count,
        "seconds": time.monotonic() - started,
        "cpu_s": time.process_time() - cpu,
        "first_error": first_error,
    }
    print("result " + json.dumps(result), flush=True)
    return 0


WORDS = [
    *("Polizei", "Feuerwehr", "Bahnhof", "Stadtrat", "Sprecher", "Lage", "Zeugen", "Innenstadt"),
    *("Umleitung", "Ermittlungen", "Pressekonferenz", "Verletzte", "Einsatz", "Hubschrauber"),
    *("Straße", "gesperrt", "Nachmittag", "bestätigt", "Angaben"),
]


if __name__ == "__main__" and sys.argv[1:2] == ["--editor-worker"]:
    sys.exit(editor_main(sys.argv[2:]))
