"""Broadcasts from sync code without an event loop (management commands, scripts, bulk tools).

They go through one long-lived loop per process instead of a new loop and Redis connection per
event, and still arrive in order.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from channels_redis.core import RedisChannelLayer

from posts import broadcast
from tests.conftest import REDIS_URL
from tests.servers import delete_redis_keys, new_layer_prefix

pytestmark = pytest.mark.redis


@pytest.fixture
def layer():
    prefix = new_layer_prefix()
    yield RedisChannelLayer(hosts=[{"address": REDIS_URL}], prefix=prefix)
    delete_redis_keys(REDIS_URL, prefix)


def receive_all(layer, channel: str, count: int) -> list[dict]:
    async def scenario():
        return [await asyncio.wait_for(layer.receive(channel), 5) for _ in range(count)]

    return asyncio.run(scenario())


def test_sends_from_a_plain_thread_arrive_in_order_over_one_loop(layer):
    channel = asyncio.run(layer.new_channel())
    asyncio.run(layer.group_add("blog-1", channel))
    loops = []

    def editor():
        for seq in range(1, 51):
            broadcast._group_send(layer, "blog-1", {"type": "liveblog.event", "seq": seq})
            loops.append(broadcast._sender.loop())

    worker = threading.Thread(target=editor)
    worker.start()
    worker.join(30)

    assert [message["seq"] for message in receive_all(layer, channel, 50)] == list(range(1, 51))
    assert len(set(map(id, loops))) == 1  # one loop for the whole run, not one per event


def test_a_failing_layer_raises_to_send_event_which_logs_it(layer):
    # The logging half is test_live_updates.py::test_send_event_failure_is_logged_not_raised.
    class Unreachable(RedisChannelLayer):
        async def group_send(self, group, message):
            raise ConnectionError("redis is down")

    with pytest.raises(ConnectionError):
        broadcast._group_send(Unreachable(hosts=[{"address": REDIS_URL}]), "blog-1", {"type": "x"})
