"""The HTTP half of LiveReader (bench/common/reader.py): catch-up, its retry, polling.

As the live client (static/js/live/) does it: `catch_up_soon` (one timer, 300 ms + random 0-2 s,
so that an overtaken push can still arrive), one catch-up at a time over GET /live/<slug>/events/?after=<seq>
repeated while the answer is non-empty and behind, a retry after a failure with full-jitter
backoff, polling every 10 s (+-50 %) while no socket is in service, and `_server_answered`: a
catch-up answered while no socket is in service moves a pending reconnect up (the reconnect
timer, `_wait_to_reconnect`, is here for that reason).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

from bench.common.net import http_get


class CatchUp:
    """Mixed into LiveReader, whose __init__ sets the attributes used here."""

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def catch_up(self, trigger: str = "page") -> asyncio.Task:
        if self._catching is None or self._catching.done():
            self._catching = asyncio.create_task(self._catch_up(trigger))
        return self._catching

    def _missing_something(self) -> bool:
        return bool(self._buffered) or self.pending_seq > self.last_seq

    def catch_up_soon(self, trigger: str = "gap") -> None:
        """The live client's catchUpSoon: one timer at a time, 300 ms + random 0-2 s."""
        if self._soon is not None and not self._soon.done():
            return
        self._soon_trigger = trigger
        self._soon = self._spawn(self._soon_fire(self.soon_base + self.rng.random() * self.soon_jitter))

    async def _soon_fire(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._soon = None
        if self.stopped:
            return
        if self._missing_something():
            self.stats.soon_fired += 1
            self.catch_up(self._soon_trigger)
        else:
            self.stats.soon_skipped += 1

    async def _retry_later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._retry = None
        if not self.stopped:
            self.stats.catchup_retries += 1
            self.catch_up("retry")

    def _cancel_retry(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None

    async def _get(self, path: str) -> tuple[int, bytes]:
        return await http_get(
            self.port, path, local_host=self.local_host, headers={"Accept": "application/json"}
        )

    async def _catch_up(self, trigger: str) -> None:
        try:
            while not self.stopped:
                status, body = await asyncio.wait_for(
                    self._get(f"/live/{self.slug}/events/?after={self.last_seq}"), self.http_timeout
                )
                if status == 404:
                    self.stats.catchup_requests += 1
                    self.stop()
                    return
                if status != 200:
                    if status >= 500:
                        self.stats.catchup_5xx += 1
                    raise ValueError(f"catch-up answered {status}")
                data = json.loads(body)
                self.stats.catchup_requests += 1
                triggers = self.stats.catchup_triggers
                triggers[trigger] = triggers.get(trigger, 0) + 1
                for event in data["events"]:
                    if event["seq"] > self.last_seq:
                        self.last_seq = event["seq"]
                        self._apply(event)
                self._drain()
                self._catchup_failures = 0
                self._cancel_retry()  # this answer is what the retry was for
                self._server_answered()
                if self.stopped or not data["events"] or self.last_seq >= data["last_seq"]:
                    break
                trigger = "more"  # the answer stopped at CATCH_UP_LIMIT: the next page
        except (OSError, TimeoutError, ValueError, IndexError, KeyError):
            # As the live client: try again later, exponential backoff with full jitter; one timer at a time.
            self.stats.catchup_failures += 1
            self._catchup_failures += 1
            delay = self.rng.random() * min(self.backoff_cap, self.backoff_base * 2**self._catchup_failures)
            self._cancel_retry()
            self._retry = self._spawn(self._retry_later(delay))
            return
        # Announced while this catch-up was under way and not in its answer (or a push still
        # waiting behind a gap): ask once more, a moment later. Never for a reconnect's hello:
        # the answer was read after it.
        if not self.stopped and self._missing_something():
            self.catch_up_soon("gap")

    def _server_answered(self) -> None:
        """The live client's serverAnswered: a catch-up answered while no socket is in service."""
        if self.stopped or self._throttled or (self._poll_task is None and self._reconnect_at is None):
            return
        self._poll_stop()
        if self._reconnect_at is None:  # a socket is connecting already
            return
        soon = time.monotonic() + self.rng.random() * self.backoff_base
        if soon < self._reconnect_at:
            self._reconnect_at = soon
            self.stats.early_reconnects += 1
            self._wake.set()

    async def _wait_to_reconnect(self, delay: float) -> None:
        """The live client's reconnect timer: `delay` s, or less if a catch-up finds the server back."""
        self._reconnect_at = time.monotonic() + delay
        try:
            while not self.stopped:
                remaining = self._reconnect_at - time.monotonic()
                if remaining <= 0:
                    return
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), remaining)
        finally:
            self._reconnect_at = None

    def _poll_start(self) -> None:
        if self._poll_task is None or self._poll_task.done():
            self._poll_task = asyncio.create_task(self._poll())

    def _poll_stop(self) -> None:
        if self._poll_task is not None:
            self._poll_task.cancel()
            self._poll_task = None

    async def _poll(self) -> None:
        while not self.stopped:
            # Jittered per tick: readers that lost their sockets together do not poll together.
            await asyncio.sleep(self.poll_seconds * (0.5 + self.rng.random()))
            self.catch_up("poll")
