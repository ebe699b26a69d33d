"""postgres-down's own PostgreSQL: a throwaway cluster (never the shared server), the app in it."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.common import HOST, PYTHON, ROOT, create_postgres_database, free_port

EDITOR = "drill-editor"
EDITOR_PASSWORD = "drill-editor-password-not-secret"  # noqa: S105 - a throwaway cluster's user


def postgres_bin() -> Path:
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    if not candidates:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
    return candidates[-1].parent


class Hang:
    """SIGSTOP of a service's processes (hung, not refusing: the kernel still accepts connections);
    SIGCONT always follows (also if the drill dies). Here and in the hung drills (a redis-server)."""

    def __init__(self, pids: Callable[[], list[int]]) -> None:
        self.pids = pids
        self.stopped: list[int] = []
        atexit.register(self.resume)

    def pause(self) -> None:
        self.stopped = self.pids()
        for pid in reversed(self.stopped):  # children first: none does work after the postmaster stops
            os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        for pid in self.stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self.stopped = []


class ThrowawayPostgres:
    """A cluster of our own in a temporary directory, run as the `postgres` OS user."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.url = f"postgres://postgres@{HOST}:{self.port}/liveblog"
        self.hang = Hang(self.server_pids)
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
        """A hung server: every process stopped."""
        self.hang.pause()

    def resume(self) -> None:
        self.hang.resume()

    def create_database(self) -> None:
        create_postgres_database(self.url)

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
from bench.common import make_blog, make_editor
author_id = make_editor({EDITOR!r}, {EDITOR_PASSWORD!r}, "Drill Editor")
blog_id, slug = make_blog("pg-drill", "", kicker="Faults", title="PostgreSQL drill")
print(json.dumps({{"blog_id": blog_id, "slug": slug, "author_id": author_id}}))
"""


def prepare_app(env: dict[str, str]) -> dict:
    """Migrate the throwaway database, create the editor and the blog."""
    manage = [PYTHON, "manage.py"]
    subprocess.run(
        [*manage, "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=180,
    )
    result = subprocess.run(
        [*manage, "shell", "-c", SETUP_CODE],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])
