"""The drill's shared state and helpers: its Redis, environment, Daphne, readers, checks."""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from bench.common import (
    PYTHON,
    ROOT,
    LiveReader,
    Managed,
    count_log,
    daphne_server,
    free_port,
    redis_server,
    server_env,
    setup_django,
    source_address,
)
from bench.faults.outcome import Outcome
from bench.faults.publishing import db_state, fresh_blog


class Drill:
    def __init__(self, args, logdir: Path) -> None:
        self.args = args
        self.logdir = logdir
        self.redis_port = free_port()
        self.redis = redis_server(self.redis_port, logdir)
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.prefix = f"liveblog-faults-{uuid.uuid4().hex[:8]}"
        self.env = server_env(
            args.database_url,
            self.redis_url,
            self.prefix,
            DJANGO_SECRET_KEY="faults-" + uuid.uuid4().hex,
            LIVEBLOG_HEARTBEAT_SECONDS=str(args.heartbeat),
        )
        self.daphne: Managed | None = None
        self.rng = random.Random(args.seed)
        self.broadcast_failures = None  # posts.broadcast's logged errors, counted after setup()
        self._static_root: Path | None = None

    def setup(self) -> None:
        """Django in this process, migrated. Editors here keep their connection (Daphne keeps 0)."""
        setup_django({**self.env, "DJANGO_CONN_MAX_AGE": "60"})
        # "Broadcast of event ... failed": counted, not printed (300 tracebacks would bury the figures).
        self.broadcast_failures = count_log("posts.broadcast")

    def static_root(self) -> str:
        """This checkout's static files, collected once per drill (blocking; call it in a thread).

        For the Daphnes that serve pages (editors, postgres-down): with DEBUG off the page needs the
        static files' manifest, which must match the templates and static/ as they are now, not as
        they were when someone last ran collectstatic into staticfiles/.
        """
        if self._static_root is None:
            root = Path(tempfile.mkdtemp(prefix="faults-static-"))
            subprocess.run(
                [PYTHON, "manage.py", "collectstatic", "--noinput", "-v", "0"],
                cwd=ROOT,
                env={**self.env, "DJANGO_STATIC_ROOT": str(root)},
                check=True,
                capture_output=True,
                timeout=300,
            )
            self._static_root = root
        return str(self._static_root)

    def close(self) -> None:
        if self._static_root is not None:
            shutil.rmtree(self._static_root, ignore_errors=True)

    # -- helpers --

    def start_daphne(self, name: str, **extra_env: str) -> Managed:
        self.daphne = daphne_server(free_port(), {**self.env, **extra_env}, self.logdir, name)
        try:
            self.daphne.start()
        except BaseException:
            self.daphne.stop()  # it did not come up: not left running until the drill ends
            raise
        return self.daphne

    @contextlib.asynccontextmanager
    async def stage(
        self, name: str, count: int, *, slow: int = 0, **extra_env: str
    ) -> AsyncIterator[tuple[Managed, int, str, list[LiveReader]]]:
        """A Daphne and a fresh blog, both named `name`, and `count` readers of it connected:
        (daphne, blog id, slug, readers). On the way out the readers are stopped, then Daphne."""
        daphne = self.start_daphne(name, **extra_env)
        readers: list[LiveReader] = []
        tasks: list[asyncio.Task] = []
        try:
            blog_id, slug = await asyncio.to_thread(fresh_blog, name)
            readers, tasks = await self.connect_readers(daphne.port, slug, count, slow)
            yield daphne, blog_id, slug, readers
        finally:
            await self.stop_readers(readers, tasks)
            daphne.stop()

    async def connect_readers(
        self, port: int, slug: str, count: int, slow: int = 0
    ) -> tuple[list[LiveReader], list[asyncio.Task]]:
        readers, tasks = [], []
        for index in range(count):
            reader = LiveReader(
                port,
                slug,
                local_host=source_address(index, self.args.per_address),
                slow_seconds=self.args.slow_sleep if index < slow else 0.0,
                rng=random.Random(self.rng.random()),
            )
            readers.append(reader)
        batch = self.args.concurrency
        for start in range(0, count, batch):
            group = readers[start : start + batch]
            tasks += [asyncio.create_task(r.run()) for r in group]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(r.connected.wait() for r in group)), 60)
        connected = sum(r.connected.is_set() for r in readers)
        if connected < count:
            print(f"  warning: {connected}/{count} readers connected", file=sys.stderr, flush=True)
        # Let the initial catch-ups finish.
        await asyncio.sleep(1.0)
        return readers, tasks

    async def stop_readers(self, readers: list[LiveReader], tasks: list[asyncio.Task]) -> None:
        for reader in readers:
            reader.stop()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 20)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(r.shutdown() for r in readers), return_exceptions=True)

    async def settle(self, blog_id: int, readers: list[LiveReader], timeout: float) -> float | None:
        """Seconds until every reader shows exactly the DB's posts, or None after `timeout`."""
        expected, _, _ = await asyncio.to_thread(db_state, blog_id)
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if all(r.present == expected for r in readers):
                return time.monotonic() - started
            await asyncio.sleep(0.2)
        return None

    async def settle_or_probe(
        self, blog_id: int, slug: str, port: int, readers: list[LiveReader], out: Outcome, since: float
    ) -> None:
        waited = await self.settle(blog_id, readers, self.args.settle_seconds)
        if waited is not None:
            out.settle = f"{time.monotonic() - since:.1f}s"
            return
        out.settle = f">{time.monotonic() - since:.0f}s"
        expected, _, _ = await asyncio.to_thread(db_state, blog_id)
        before = sum(r.present == expected for r in readers)
        out.extra_figures["complete_before_probe"] = f"{before}/{len(readers)}"
        # A fresh socket makes the hub read last_seq from the DB; its next ping carries it.
        probe = LiveReader(port, slug, local_host="127.0.1.250", rng=random.Random(1))
        probe_task = asyncio.create_task(probe.run())
        waited = await self.settle(blog_id, readers, self.args.heartbeat * 2 + 10)
        out.extra_figures["after_probe"] = f"{waited:.1f}s" if waited is not None else "never"
        out.probe_needed = True
        await self.stop_readers([probe], [probe_task])

    async def verify(self, blog_id: int, readers: list[LiveReader], out: Outcome) -> None:
        expected, _, _ = await asyncio.to_thread(db_state, blog_id)
        out.readers = len(readers)
        out.posts_db = len(expected)
        out.complete = sum(r.present == expected for r in readers)
        out.missing = sum(len(expected - r.present) for r in readers)
        out.extra = sum(len(r.present - expected) for r in readers)
        out.ok = out.complete == len(readers) and out.missing == 0 and out.extra == 0

    @staticmethod
    def catchup_figures(
        readers: list[LiveReader], base: list[tuple[int, int]]
    ) -> tuple[str, list[int], list[int]]:
        requests = [r.stats.catchup_requests - b[0] for r, b in zip(readers, base, strict=True)]
        failures = [r.stats.catchup_failures - b[1] for r, b in zip(readers, base, strict=True)]
        text = f"{sum(requests)} (max {max(requests, default=0)}/reader)"
        return text, requests, failures

    @staticmethod
    def baseline(readers: list[LiveReader]) -> list[tuple[int, int]]:
        return [(r.stats.catchup_requests, r.stats.catchup_failures) for r in readers]
