"""What the drill's database sees: peak connections while a scenario runs, statements run."""

from __future__ import annotations

import sys
import threading
import time

from bench.common import admin_url


class ConnectionSampler:
    """Peak connections to the drill's database (and to the whole server), every 0.25 s, one connection."""

    def __init__(self, url: str, interval: float = 0.25) -> None:
        self.name, self.admin = admin_url(url)
        self.interval = interval
        self.peak_db = 0
        self.peak_server = 0
        self.samples = 0
        self.windows: dict[int, int] = {}  # 5 s window since start -> peak connections to the drill's DB
        self._started = time.monotonic()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psycopg

        try:
            with psycopg.connect(self.admin, autocommit=True, connect_timeout=5) as conn:
                while not self._done.is_set():
                    db, total = conn.execute(
                        "SELECT count(*) FILTER (WHERE datname = %s), count(*) FROM pg_stat_activity"
                        " WHERE backend_type = 'client backend'",
                        [self.name],
                    ).fetchone()
                    self.peak_db = max(self.peak_db, db)
                    window = int((time.monotonic() - self._started) // 5)
                    self.windows[window] = max(self.windows.get(window, 0), db)
                    self.peak_server = max(self.peak_server, total)
                    self.samples += 1
                    self._done.wait(self.interval)
        except Exception as error:  # the figure is then missing, the drill goes on
            print(f"  connection sampler stopped: {error!r}"[:200], file=sys.stderr, flush=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=5)

    def text(self) -> str:
        return f"{self.peak_db}(server:{self.peak_server})" if self.samples else "n/a"

    def timeline(self) -> str:
        """Peak per 5 s window from the scenario's start, e.g. 3/40/99/99/12."""
        return "/".join(str(self.windows.get(w, 0)) for w in range(max(self.windows, default=-1) + 1))


def statements(url: str) -> int | None:
    """Transactions the database has run so far (xact_commit + xact_rollback), or None."""
    import psycopg

    name, admin = admin_url(url)
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s", [name]
            ).fetchone()
    except Exception as error:  # the figure is then missing, the drill goes on
        print(f"  statement count failed: {error!r}"[:200], file=sys.stderr, flush=True)
        return None
    return int(row[0]) if row else None
