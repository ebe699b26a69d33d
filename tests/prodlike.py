"""Clients of the production-like run (scripts/prodlike) for tests/test_prodlike.py.

Everything goes through nginx over TLS, verified against the run's own certificate. Each client
binds its own source address in 127/8 (Linux routes all of it to lo), so nginx sees as many
clients as the test wants while the workers see nginx (127.0.0.1) with the client appended to
X-Forwarded-For. `X-Liveblog-Worker` (the run's test-only header: nginx's $upstream_addr) says
which worker served an answer or a socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import http.cookiejar
import json
import random
import ssl
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from bench.common.net import http_get
from scripts.prodlike import WORKER_HEADER, ProdLike

TIMEOUT = 15.0


def served_by(upstream_addr: str) -> str:
    """The worker that answered: $upstream_addr lists every worker tried ("dead, alive" after a
    refused connection that proxy_next_upstream passed on), the last one answered."""
    return upstream_addr.split(",")[-1].strip()


def tls_context(site: ProdLike) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(site.certificate))


async def https_get(site: ProdLike, path: str, source: str) -> tuple[int, bytes]:
    """One GET through nginx from `source` (Connection: close): (status, body)."""
    return await http_get(
        site.port, path, local_host=source, headers={"Accept": "application/json"}, ssl=tls_context(site)
    )


async def open_socket(
    site: ProdLike, slug: str, source: str, forwarded_for: str | None = None
) -> tuple[ClientConnection, str]:
    """A reader socket through nginx: (socket, the worker that took it)."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    socket = await connect(
        f"wss://127.0.0.1:{site.port}/ws/live/{slug}/",
        ssl=tls_context(site),
        origin=site.url,  # type: ignore[arg-type]
        additional_headers=headers,
        local_addr=(source, 0),
        ping_interval=None,  # browsers do not ping; they answer the server's pings
        open_timeout=TIMEOUT,
        max_size=None,
    )
    assert socket.response is not None
    return socket, served_by(socket.response.headers[WORKER_HEADER])


async def first_frame(socket: ClientConnection) -> tuple[dict | None, int | None]:
    """(the first frame, None), or (None, the close code) when the server closed instead."""
    try:
        return json.loads(await asyncio.wait_for(socket.recv(), TIMEOUT)), None
    except ConnectionClosed as closed:
        return None, closed.rcvd.code if closed.rcvd is not None else 1006


@dataclass
class ProxyReader:
    """A reader following the live protocol (live/protocol.py) as the page's client does: events
    applied in seq order, a gap or a hello/ping naming a newer seq sends it to
    /live/<slug>/events/?after=<seq>, a lost socket is replaced after a jittered pause."""

    site: ProdLike
    slug: str
    source: str
    last_seq: int = 0
    posts: set[int] = field(default_factory=set)
    pushed: set[int] = field(default_factory=set)  # seqs received on a socket
    workers: list[str] = field(default_factory=list)  # the worker of each socket, in order
    closes: list[int] = field(default_factory=list)
    catch_ups: int = 0
    reconnect_delay: tuple[float, float] = (0.5, 1.5)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    stopped: bool = False
    _socket: ClientConnection | None = None

    def _apply(self, event: dict) -> None:
        self.last_seq = event["seq"]
        if event.get("post_id"):
            (self.posts.add if event.get("html") else self.posts.discard)(int(event["post_id"]))

    async def catch_up(self) -> None:
        while True:
            status, body = await asyncio.wait_for(
                https_get(self.site, f"/live/{self.slug}/events/?after={self.last_seq}", self.source), TIMEOUT
            )
            assert status == 200, (status, body[:200])
            self.catch_ups += 1
            answer = json.loads(body)
            for event in answer["events"]:
                if event["seq"] > self.last_seq:
                    self._apply(event)
            if not answer["events"] or self.last_seq >= answer["last_seq"]:
                return

    async def _receive(self, frame: dict) -> None:
        if frame["type"] in ("hello", "ping") and frame["last_seq"] > self.last_seq:
            await self.catch_up()
        elif frame["type"] == "event":
            self.pushed.add(frame["seq"])
            if frame["seq"] > self.last_seq + 1:
                await self.catch_up()
            if frame["seq"] == self.last_seq + 1:
                self._apply(frame)

    async def _session(self) -> None:
        self._socket, worker = await open_socket(self.site, self.slug, self.source)
        self.workers.append(worker)
        try:
            while not self.stopped:
                await self._receive(json.loads(await self._socket.recv()))
                self.ready.set()
        except ConnectionClosed as closed:
            if not self.stopped:
                self.closes.append(closed.rcvd.code if closed.rcvd is not None else 1006)
        finally:
            self._socket = None

    async def run(self) -> None:
        while not self.stopped:
            with contextlib.suppress(OSError, TimeoutError, InvalidHandshake):
                await self._session()
            if self.stopped or 4429 in self.closes:
                return
            await asyncio.sleep(random.uniform(*self.reconnect_delay))

    async def stop(self) -> None:
        self.stopped = True
        if self._socket is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._socket.close(), 3)


class Desk:
    """An editor's browser on the desk, through nginx: log in, post with the composer."""

    def __init__(self, site: ProdLike, username: str, password: str) -> None:
        self.site = site
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=tls_context(site)),
            urllib.request.HTTPCookieProcessor(self.jar),
        )
        with self._open("/admin/login/") as response:
            assert response.status == 200
        self.post("/admin/login/", {"username": username, "password": password, "next": "/admin/"})
        # Secure cookies: the session exists only because the proxy said X-Forwarded-Proto: https.
        assert any(cookie.name == "sessionid" and cookie.secure for cookie in self.jar), "login failed"

    def _open(self, path: str, data: dict | None = None):
        headers = {"Origin": self.site.url, "Referer": self.site.url + path, "Accept-Language": "en"}
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.site.url + path, data=body, headers=headers)
        return self.opener.open(request, timeout=TIMEOUT)

    def post(self, path: str, data: dict) -> str:
        """POST a form; the worker that served it."""
        token = next(cookie.value for cookie in self.jar if cookie.name == "csrftoken")
        with self._open(path, {**data, "csrfmiddlewaretoken": token}) as response:
            assert response.status == 200, response.status
            return served_by(response.headers[WORKER_HEADER])

    def publish(self, blog_id: int, headline: str) -> str:
        """A post from the composer; the worker that saved it (and so broadcast it, on commit)."""
        return self.post(
            f"/admin/posts/liveblog/{blog_id}/composer/", {"headline": headline, "body": "<p>…</p>"}
        )


def login_attempt(
    site: ProdLike, source: str, username: str, password: str, forged: str | None = None
) -> int:
    """One login through nginx from `source`, as a browser makes it (the form, then its POST), with
    an X-Forwarded-For of the client's own if `forged`: the status of the POST (302 = logged in)."""

    def connection() -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(
            "127.0.0.1", site.port, context=tls_context(site), source_address=(source, 0), timeout=TIMEOUT
        )

    first = connection()
    first.request("GET", "/admin/login/", headers={"Accept-Language": "en"})
    form = first.getresponse()
    form.read()
    first.close()
    cookies = [c.split(";", 1)[0] for c in form.headers.get_all("Set-Cookie") or []]
    token = next(c.split("=", 1)[1] for c in cookies if c.startswith("csrftoken="))
    headers = {
        "Cookie": "; ".join(cookies),
        "Origin": site.url,
        "Referer": f"{site.url}/admin/login/",
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept-Language": "en",
        **({"X-Forwarded-For": forged} if forged else {}),
    }
    body = urllib.parse.urlencode(
        {"username": username, "password": password, "csrfmiddlewaretoken": token, "next": "/admin/"}
    )
    second = connection()
    second.request("POST", "/admin/login/", body=body, headers=headers)
    answer = second.getresponse()
    answer.read()
    second.close()
    return answer.status
