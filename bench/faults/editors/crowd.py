"""The readers of one editors-drill run: loading pages, drops, reloads, away spells."""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
from dataclasses import dataclass, field

from bench.common import source_address
from bench.faults.editors.page import EditorsReader, get_text, parse_page


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
        """Load the page (bounded retries), then start following it as the live client does."""
        page, error = None, None
        for attempt in range(10):
            try:
                status, body = await get_text(self.port, f"/live/{self.slug}/", self.local_host(slot))
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
