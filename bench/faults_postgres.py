"""Fault drill "postgres-down" (a bench/faults.py plugin): PostgreSQL stopped under editors and readers.

    .venv/bin/python bench/faults.py --scenario postgres-down

What it does, all on 127.0.0.1 and in a throwaway PostgreSQL cluster (never the shared server):

1. initdb a cluster in a temporary directory (as the `postgres` OS user: initdb and postgres refuse
   root), start it on a free port (trust auth, fsync off), create `liveblog`, migrate, collect the
   static files (Daphne runs with DEBUG off, as in production) and create an editor and a live blog.
2. Start Daphne against it (the drill's environment with DATABASE_URL replaced) and connect
   --pg-readers readers (bench/reader.py, live.js's algorithm).
3. An editor logs in to the admin over HTTP (CSRF, session cookie; requests carry
   X-Forwarded-Proto: https as behind the production proxy) and publishes every --pg-edit-interval
   seconds, through the composer as its htmx form does, and every third post through the admin's
   add form: for --pg-before-seconds, then while PostgreSQL is down for --pg-down-seconds
   (`pg_ctl stop -m fast`, or with --pg-mode hang SIGSTOP of every server process, a server that
   accepts connections and answers nothing), then after it is back until saves have worked for
   --pg-after-seconds.
4. During the outage it also asks once (after a third of it) for the reader page, the catch-up
   endpoint and a new socket, and watches the readers' open sockets.

Figures: saves_ok (reported saved / attempts) against the posts really in the database:
false_saved (reported saved, not in the DB: must be 0) and unreported (in the DB although the
editor got an error: a commit that went through just before the failure); the editor's answers
during the outage by status (and their slowest time), any 500s, the probes, readers' sockets open
at the end of the outage and closed during it, pings they got meanwhile, recover (first save that
works after the restart), and, as for every drill, whether every reader ends with exactly the
database's posts (settle = seconds from the restart until then).

Every wait is bounded; Daphne and the cluster are stopped by PID (pg_ctl uses the cluster's pid
file) and the temporary directory is removed at the end.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path

import faults

NAME = "postgres-down"
HOST = faults.HOST
EDITOR = "drill-editor"
EDITOR_PASSWORD = "drill-editor-password-not-secret"  # noqa: S105 - a throwaway cluster's user
HTTP_TIMEOUT = (3.0, 30.0)  # connect, read (longer than the app's pool timeout)


def add_arguments(parser) -> None:
    group = parser.add_argument_group("postgres-down (bench/faults_postgres.py)")
    group.add_argument("--pg-readers", type=int, default=20)
    group.add_argument("--pg-down-seconds", type=float, default=30.0)
    group.add_argument("--pg-edit-interval", type=float, default=0.5, help="s between an editor's saves")
    group.add_argument("--pg-before-seconds", type=float, default=5.0)
    group.add_argument(
        "--pg-after-seconds", type=float, default=10.0, help="saves after the first that works"
    )
    group.add_argument("--pg-recover-timeout", type=float, default=90.0, help="max wait for a save to work")
    group.add_argument("--pg-mode", choices=["stop", "hang"], default="stop")
    group.add_argument(
        "--pg-pool-timeout", help="Daphne's DJANGO_DB_POOL_TIMEOUT, s (default: the app's setting)"
    )


# The throwaway cluster ------------------------------------------------------------------------


def postgres_bin() -> Path:
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    if not candidates:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
    return candidates[-1].parent


class ThrowawayPostgres:
    """A cluster of our own in a temporary directory, run as the `postgres` OS user."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.port = faults.free_port()
        self.root = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.url = f"postgres://postgres@{HOST}:{self.port}/liveblog"
        self.paused: list[int] = []
        shutil.chown(self.root, "postgres", "postgres")

    def _run(self, *argv: str, timeout: float = 60.0) -> str:
        result = subprocess.run(
            ["runuser", "-u", "postgres", "--", *argv],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({result.returncode}): {result.stderr[-1500:]}")
        return result.stdout

    def init(self) -> None:
        self._run(
            str(self.bin / "initdb"),
            *(
                "-D",
                str(self.data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ),
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nlisten_addresses = '{HOST}'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.root}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 100\n"
            )

    def start(self) -> None:
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def postmaster_pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        return None

    def server_pids(self) -> list[int]:
        """The postmaster and its children (backends, checkpointer, ...)."""
        main = self.postmaster_pid()
        if main is None:
            return []
        pids = [main]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                # pid (comm) state ppid ...: comm may hold spaces, so split after its ")".
                ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
                if ppid == main:
                    pids.append(int(stat.parent.name))
        return pids

    def pause(self) -> None:
        """A hung server: every process stopped (the kernel still accepts connections)."""
        self.paused = self.server_pids()
        for pid in reversed(self.paused):  # children first: none does work after the postmaster stops
            os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        for pid in self.paused:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self.paused = []

    def create_database(self) -> None:
        import psycopg

        admin = urllib.parse.urlunsplit(urllib.parse.urlsplit(self.url)._replace(path="/postgres"))
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute('CREATE DATABASE "liveblog"')

    def cleanup(self) -> None:
        self.resume()
        pid = self.postmaster_pid()
        if pid is not None:
            try:
                self.stop("immediate")
            except Exception:  # pg_ctl failed: end the postmaster by its PID
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)


def posts_in_db(url: str, blog_id: int) -> dict[int, str]:
    """The blog's visible posts in the throwaway database: id -> headline."""
    import psycopg

    with psycopg.connect(url, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT id, headline FROM posts_post WHERE live_blog_id = %s AND deleted_at IS NULL", [blog_id]
        ).fetchall()
    return dict(rows)


SETUP_CODE = f"""
import json
from django.contrib.auth.models import Group, User
from authors.models import Author
from posts.models import LiveBlog
user = User.objects.create_user({EDITOR!r}, password={EDITOR_PASSWORD!r}, is_staff=True)
user.groups.add(Group.objects.get(name="Editors"))
author = Author.objects.create(name="Drill Editor", slug="drill-editor", user=user)
blog = LiveBlog.objects.create(
    slug="pg-drill", kicker="Faults", title="PostgreSQL drill", state=LiveBlog.State.LIVE
)
print(json.dumps({{"blog_id": blog.pk, "slug": blog.slug, "author_id": author.pk}}))
"""


def prepare_app(env: dict[str, str]) -> dict:
    """Migrate the throwaway database, collect static files, create the editor and the blog."""
    manage = [faults.PYTHON, "manage.py"]
    for argv in (["migrate", "--noinput", "-v", "0"], ["collectstatic", "--noinput", "-v", "0"]):
        subprocess.run(manage + argv, cwd=faults.ROOT, env=env, check=True, capture_output=True, timeout=180)
    result = subprocess.run(
        [*manage, "shell", "-c", SETUP_CODE],
        cwd=faults.ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


# The editor, over HTTP --------------------------------------------------------------------------


@dataclass
class Attempt:
    at: float  # time.monotonic() when sent
    label: str
    kind: str  # "composer" (htmx) or "admin" (add form)
    status: str  # HTTP status, or "timeout" / "refused"
    ok: bool  # what the editor was told: saved
    seconds: float
    retry_after: bool = False


class Editor:
    """An editor's browser, reduced to what publishing needs: cookies, CSRF, the two forms.

    Cookies are kept by hand: with DEBUG off they are Secure, and a cookie jar would not send them
    back over plain HTTP (the production proxy speaks HTTPS to the browser).
    """

    def __init__(self, port: int, blog_id: int, author_id: int) -> None:
        import requests

        self.http = requests.Session()
        self.base = f"http://{HOST}:{port}"
        self.origin = f"https://{HOST}:{port}"
        self.blog_id = blog_id
        self.author_id = author_id
        self.cookies: dict[str, str] = {}

    def _request(self, method: str, path: str, **kwargs):
        headers = {
            "X-Forwarded-Proto": "https",
            "Origin": self.origin,
            "Referer": self.origin + path,
            "Accept-Language": "en",
            **kwargs.pop("headers", {}),
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = self.http.request(
            method, self.base + path, headers=headers, allow_redirects=False, timeout=HTTP_TIMEOUT, **kwargs
        )
        for header in response.raw.headers.getlist("Set-Cookie"):
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return response

    def login(self) -> None:
        self._request("GET", "/admin/login/")
        response = self._request(
            "POST",
            "/admin/login/?next=/admin/",
            data={
                "username": EDITOR,
                "password": EDITOR_PASSWORD,
                "next": "/admin/",
                "csrfmiddlewaretoken": self.cookies.get("csrftoken", ""),
            },
        )
        if response.status_code != 302 or "sessionid" not in self.cookies:
            raise RuntimeError(f"editor login failed: {response.status_code} {response.text[:300]}")

    def publish(self, label: str, kind: str) -> Attempt:
        import requests

        started = time.monotonic()
        token = self.cookies.get("csrftoken", "")
        try:
            if kind == "composer":
                response = self._request(
                    "POST",
                    f"/admin/posts/liveblog/{self.blog_id}/composer/",
                    headers={"HX-Request": "true", "X-CSRFToken": token},
                    data={"headline": label, "body": f"<p>{label}</p>", "authors": [self.author_id]},
                )
                # What composer.js tells the editor: published when the fresh form says so.
                ok = response.status_code == 200 and "data-published=" in response.text
            else:
                response = self._request(
                    "POST",
                    "/admin/posts/post/add/",
                    data={
                        "csrfmiddlewaretoken": token,
                        "live_blog": self.blog_id,
                        "headline": label,
                        "body": f"<p>{label}</p>",
                        "authors": [self.author_id],
                        "published_at_0": time.strftime("%Y-%m-%d"),
                        "published_at_1": time.strftime("%H:%M:%S"),
                    },
                )
                # The admin's "added successfully" comes with the redirect to the list.
                ok = response.status_code == 302 and response.headers.get("Location", "").endswith(
                    "/admin/posts/post/"
                )
            status, retry_after = str(response.status_code), "Retry-After" in response.headers
        except requests.Timeout:
            ok, status, retry_after = False, "timeout", False
        except requests.ConnectionError:
            ok, status, retry_after = False, "refused", False
        return Attempt(started, label, kind, status, ok, time.monotonic() - started, retry_after)


class EditingLoop:
    """The editor publishing every `interval` s in a thread of its own, until stopped (or `limit`)."""

    def __init__(self, editor: Editor, interval: float, limit: int = 2000) -> None:
        self.editor = editor
        self.interval = interval
        self.limit = limit
        self.attempts: list[Attempt] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="editor", daemon=True)

    def _run(self) -> None:
        for index in range(self.limit):
            if self.stopped.is_set():
                return
            kind = "admin" if index % 3 == 2 else "composer"
            attempt = self.editor.publish(f"pg-{index:04d}", kind)
            self.attempts.append(attempt)
            self.stopped.wait(max(0.0, self.interval - attempt.seconds))

    def first_ok_after(self, moment: float) -> Attempt | None:
        return next((a for a in list(self.attempts) if a.at >= moment and a.ok), None)

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=HTTP_TIMEOUT[0] + HTTP_TIMEOUT[1] + 5)


# Probes while the database is down --------------------------------------------------------------


@dataclass
class Probes:
    page: str = "-"
    catchup: str = "-"
    socket: str = "-"


def http_probe(port: int, path: str, accept: str, timeout: float) -> str:
    import requests

    try:
        response = requests.get(
            f"http://{HOST}:{port}{path}",
            headers={"Accept": accept, "X-Forwarded-Proto": "https", "Accept-Language": "en"},
            allow_redirects=False,
            timeout=(3.0, timeout),
        )
    except requests.RequestException as error:
        return type(error).__name__
    retry = "+Retry-After" if "Retry-After" in response.headers else ""
    return f"{response.status_code}{retry}"


async def socket_probe(port: int, slug: str, timeout: float) -> str:
    """A new reader's socket: how the server ends it (close code), or what it sent first."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    try:
        async with asyncio.timeout(timeout):
            async with connect(
                f"ws://{HOST}:{port}/ws/live/{slug}/", origin=f"http://{HOST}:{port}", ping_interval=None
            ) as socket:
                try:
                    frame = json.loads(await socket.recv())
                    return f"open({frame.get('type')})"
                except ConnectionClosed as closed:
                    return f"closed {closed.rcvd.code if closed.rcvd else 'no code'}"
    except TimeoutError:
        return "timeout"
    except Exception as error:
        return type(error).__name__


# The scenario -----------------------------------------------------------------------------------


def counts(values: list[str]) -> str:
    tally: dict[str, int] = {}
    for value in values:
        tally[value] = tally.get(value, 0) + 1
    return ",".join(f"{k}x{n}" for k, n in sorted(tally.items())) or "none"


async def wait_complete(url: str, blog_id: int, readers, timeout: float) -> float | None:
    """Seconds until every reader shows exactly the database's posts, or None after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        expected = set(await asyncio.to_thread(posts_in_db, url, blog_id))
        if all(r.present == expected for r in readers):
            return time.monotonic() - started
        await asyncio.sleep(0.5)
    return None


async def run(drill) -> faults.Outcome:
    args = drill.args
    out = faults.Outcome(NAME if args.pg_mode == "stop" else f"{NAME}(hang)")
    pg = ThrowawayPostgres()
    atexit.register(pg.cleanup)  # also if the drill dies on the way (cleanup runs once in effect)
    daphne = None
    editing: EditingLoop | None = None
    readers, tasks = [], []
    try:
        await asyncio.to_thread(pg.init)
        await asyncio.to_thread(pg.start)
        await asyncio.to_thread(pg.create_database)
        env = {**drill.env, "DATABASE_URL": pg.url, "DJANGO_STATIC_ROOT": str(pg.root / "static")}
        if args.pg_pool_timeout:
            env["DJANGO_DB_POOL_TIMEOUT"] = args.pg_pool_timeout
        setup = await asyncio.to_thread(prepare_app, env)
        blog_id, slug = setup["blog_id"], setup["slug"]
        daphne = faults.daphne_server(faults.free_port(), env, drill.logdir, "pgdown")
        drill.daphne = daphne
        await asyncio.to_thread(daphne.start)
        editor = Editor(daphne.port, blog_id, setup["author_id"])
        await asyncio.to_thread(editor.login)
        readers, tasks = await drill.connect_readers(daphne.port, slug, args.pg_readers)

        editing = EditingLoop(editor, args.pg_edit_interval)
        editing.thread.start()
        await asyncio.sleep(args.pg_before_seconds)
        await wait_complete(pg.url, blog_id, readers, 15)

        closes_before = [len(r.stats.close_codes) for r in readers]
        pings_before = sum(r.stats.pings for r in readers)
        went_down = time.monotonic()
        await asyncio.to_thread(pg.stop if args.pg_mode == "stop" else pg.pause)
        down_at = time.monotonic()
        await asyncio.sleep(args.pg_down_seconds / 3)
        probes = Probes()
        wait = args.pg_down_seconds / 2  # answered (or given up) while the database is still down
        probes.page, probes.catchup, probes.socket = await asyncio.gather(
            asyncio.to_thread(http_probe, daphne.port, f"/live/{slug}/", "text/html", wait),
            asyncio.to_thread(
                http_probe, daphne.port, f"/live/{slug}/events/?after=0", "application/json", wait
            ),
            socket_probe(daphne.port, slug, wait),
        )
        remaining = args.pg_down_seconds - (time.monotonic() - went_down)
        if remaining > 0:
            await asyncio.sleep(remaining)
        open_at_end = sum(r.connected.is_set() for r in readers)
        closed_during = [
            code for r, n in zip(readers, closes_before, strict=True) for code in r.stats.close_codes[n:]
        ]
        pings_during = sum(r.stats.pings for r in readers) - pings_before
        back_at = time.monotonic()
        await asyncio.to_thread(pg.start if args.pg_mode == "stop" else pg.resume)
        up_at = time.monotonic()

        recovered = None
        while time.monotonic() - up_at < args.pg_recover_timeout:
            recovered = editing.first_ok_after(back_at)
            if recovered is not None:
                break
            await asyncio.sleep(0.2)
        if recovered is not None:
            await asyncio.sleep(args.pg_after_seconds)
        await asyncio.to_thread(editing.stop)
        # Readers were complete before the outage and get every save since by push or catch-up:
        # settle is how long after the editor's last save they all show exactly the database's posts.
        waited = await wait_complete(pg.url, blog_id, readers, args.settle_seconds)
        out.settle = f"{waited:.1f}s" if waited is not None else f">{args.settle_seconds:.0f}s"

        # Figures ------------------------------------------------------------------------------
        in_db = await asyncio.to_thread(posts_in_db, pg.url, blog_id)
        attempts = list(editing.attempts)
        saved = set(in_db.values())
        told_ok = {a.label for a in attempts if a.ok}
        before = [a for a in attempts if a.at < went_down]
        during = [a for a in attempts if went_down <= a.at < back_at]
        after = [a for a in attempts if a.at >= back_at]
        false_saved = told_ok - saved
        unreported = saved - told_ok
        http_500 = sum(a.status == "500" for a in attempts)
        # While it is down an editor must hear "not saved" (503), unless the save really went through
        # (sent just before the restart, answered after it).
        # A hung server may also leave a request without any answer (the client gives up).
        allowed = {"503"} if args.pg_mode == "stop" else {"503", "timeout"}
        wrong_answers = [a for a in during if not (a.status in allowed or (a.ok and a.label in saved))]
        f = out.extra_figures
        f["mode"] = args.pg_mode
        if args.pg_pool_timeout:
            f["pool_timeout"] = args.pg_pool_timeout
        f["pg_down_s"] = f"{back_at - went_down:.1f}"
        f["saves_ok"] = f"{len(told_ok)}/{len(attempts)}"
        f["db_posts_by_editor"] = str(len(saved))
        f["false_saved"] = str(len(false_saved))
        f["unreported"] = str(len(unreported))
        f["before_http"] = counts([a.status for a in before])
        f["outage_http"] = counts([a.status for a in during])
        f["outage_503_retry_after"] = f"{sum(a.retry_after for a in during if a.status == '503')}"
        f["outage_answer_s_max"] = f"{max((a.seconds for a in during), default=0):.1f}"
        f["after_http"] = counts([a.status for a in after])
        f["http_500"] = str(http_500)
        f["probe_page"] = probes.page
        f["probe_catchup"] = probes.catchup
        f["probe_new_socket"] = probes.socket
        f["sockets_open_end_of_outage"] = f"{open_at_end}/{len(readers)}"
        f["closed_during_outage"] = counts([str(c) for c in closed_during])
        f["pings_during_outage"] = str(pings_during)
        f["recover_s"] = f"{recovered.at + recovered.seconds - up_at:.1f}" if recovered else "never"
        f["pg_stop_s"] = f"{down_at - went_down:.1f}"
        out.catchups = f"{sum(r.stats.catchup_requests for r in readers)}"

        expected = set(in_db)
        out.readers = len(readers)
        out.posts_db = len(expected)
        out.complete = sum(r.present == expected for r in readers)
        out.missing = sum(len(expected - r.present) for r in readers)
        out.extra = sum(len(r.present - expected) for r in readers)
        out.ok = (
            out.complete == len(readers)
            and out.missing == 0
            and out.extra == 0
            and not false_saved
            and http_500 == 0
            and recovered is not None
            and not closed_during
            and not wrong_answers
        )
    finally:
        if editing is not None and editing.thread.is_alive():
            await asyncio.to_thread(editing.stop)
        await drill.stop_readers(readers, tasks)
        if daphne is not None:
            await asyncio.to_thread(daphne.stop)
        await asyncio.to_thread(pg.cleanup)
    return out
