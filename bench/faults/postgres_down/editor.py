"""postgres-down's editor over HTTP (admin login, composer, admin add form) and its probes."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie

from bench.common import HOST
from bench.faults.postgres_down.cluster import EDITOR, EDITOR_PASSWORD

HTTP_TIMEOUT = (3.0, 30.0)  # connect, read (longer than the app's pool timeout)


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

    def __init__(
        self,
        port: int,
        blog_id: int,
        author_id: int,
        username: str = EDITOR,
        password: str = EDITOR_PASSWORD,
    ) -> None:
        import requests

        self.http = requests.Session()
        self.base = f"http://{HOST}:{port}"
        self.origin = f"https://{HOST}:{port}"
        self.blog_id = blog_id
        self.author_id = author_id
        self.username = username
        self.password = password
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
                "username": self.username,
                "password": self.password,
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
                # What static/js/composer/ tells the editor: published when the fresh form says so.
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
