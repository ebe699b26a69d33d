"""What runs against Daphne while a service hangs: an editor publishing, and a visitor probing.

Every request is timed; the drills' figure is the longest any of them waited.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from bench.common import HOST, tally
from bench.faults.postgres_down.editor import HTTP_TIMEOUT, Editor

DELAYED = "Live delivery is delayed"


@dataclass
class Answer:
    at: float  # time.monotonic() when sent
    kind: str  # publish, page, catchup, readyz
    status: str  # HTTP status, or "timeout" / "refused"
    seconds: float
    label: str = ""
    saved: bool = False  # publish: the desk said "Published"
    delayed: bool = False  # publish: ... and "Live delivery is delayed"
    retry_after: bool = False
    note: str = ""  # readyz: which check failed


class DeskEditor(Editor):
    """postgres-down's editor (cookies, CSRF, login), each save in the composer timed and read."""

    def publish_one(self, label: str) -> Answer:
        """One post through the composer, as its htmx form sends it; what the desk said."""
        import requests

        started = time.monotonic()
        try:
            response = self._request(
                "POST",
                f"/admin/posts/liveblog/{self.blog_id}/composer/",
                headers={"HX-Request": "true", "X-CSRFToken": self.cookies.get("csrftoken", "")},
                data={"headline": label, "body": f"<p>{label}</p>", "authors": [self.author_id]},
            )
        except requests.Timeout:
            return Answer(started, "publish", "timeout", time.monotonic() - started, label)
        except requests.ConnectionError:
            return Answer(started, "publish", "refused", time.monotonic() - started, label)
        # What static/js/composer/ tells the editor: published when the fresh form says so.
        saved = response.status_code == 200 and "data-published=" in response.text
        return Answer(
            started,
            "publish",
            str(response.status_code),
            time.monotonic() - started,
            label,
            saved=saved,
            delayed=saved and DELAYED in response.text,
            retry_after="Retry-After" in response.headers,
        )


def probe(port: int, kind: str, path: str, accept: str) -> Answer:
    """One GET as a reader's browser (page, catch-up) or the proxy (readyz) sends it."""
    import requests

    started = time.monotonic()
    try:
        response = requests.get(
            f"http://{HOST}:{port}{path}",
            headers={"Accept": accept, "X-Forwarded-Proto": "https", "Accept-Language": "en"},
            allow_redirects=False,
            timeout=HTTP_TIMEOUT,
        )
    except requests.Timeout:
        return Answer(started, kind, "timeout", time.monotonic() - started)
    except requests.ConnectionError:
        return Answer(started, kind, "refused", time.monotonic() - started)
    note = ""
    if kind == "readyz" and response.headers.get("Content-Type", "").startswith("application/json"):
        failed = {
            name: result for name, result in response.json().get("checks", {}).items() if result != "ok"
        }
        note = ",".join(f"{name}:{result}" for name, result in sorted(failed.items()))
    return Answer(
        started,
        kind,
        str(response.status_code),
        time.monotonic() - started,
        retry_after="Retry-After" in response.headers,
        note=note,
    )


class Traffic:
    """The editor publishing every `interval` s, and a visitor asking for the reader page, the
    catch-up and /readyz in turn every `interval` s, each in a thread of its own, until stopped."""

    def __init__(self, editor: DeskEditor, port: int, slug: str, interval: float) -> None:
        self.editor = editor
        self.interval = interval
        self.answers: list[Answer] = []
        self.stopped = threading.Event()
        paths = [
            ("page", f"/live/{slug}/", "text/html"),
            ("catchup", f"/live/{slug}/events/?after=0", "application/json"),
            ("readyz", "/readyz", "application/json"),
        ]
        self.threads = [
            threading.Thread(target=self._publish, name="hung-editor", daemon=True),
            *(
                threading.Thread(target=self._probe, args=(port, *path), name=f"hung-{path[0]}", daemon=True)
                for path in paths
            ),
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join(timeout=HTTP_TIMEOUT[0] + HTTP_TIMEOUT[1] + 5)

    def _publish(self) -> None:
        index = 0
        while not self.stopped.is_set():
            answer = self.editor.publish_one(f"hung-{index:04d}")
            self.answers.append(answer)
            index += 1
            self.stopped.wait(max(0.0, self.interval - answer.seconds))

    def _probe(self, port: int, kind: str, path: str, accept: str) -> None:
        while not self.stopped.is_set():
            answer = probe(port, kind, path, accept)
            self.answers.append(answer)
            self.stopped.wait(max(0.0, self.interval - answer.seconds))

    def overlapping(self, start: float, end: float) -> list[Answer]:
        """Answers to requests that were open at some moment in [start, end)."""
        return [a for a in list(self.answers) if a.at < end and a.at + a.seconds > start]


def wait_figures(answers: list[Answer], prefix: str) -> dict[str, str]:
    """Per kind: statuses and the longest wait; and the longest wait of all (`<prefix>_wait_max_s`)."""
    figures: dict[str, str] = {}
    for kind in ("publish", "page", "catchup", "readyz"):
        mine = [a for a in answers if a.kind == kind]
        statuses = [a.status + (f"({a.note})" if a.note else "") for a in mine]
        figures[f"{prefix}_{kind}"] = (
            f"{tally(statuses)} max {max((a.seconds for a in mine), default=0):.1f}s"
        )
    figures[f"{prefix}_wait_max_s"] = f"{max((a.seconds for a in answers), default=0):.1f}"
    return figures


def saves(answers: list[Answer]) -> str:
    """The editor's saves: saved (with the "delayed" note / without) and refused by status."""
    publish = [a for a in answers if a.kind == "publish"]
    delayed = sum(a.saved and a.delayed for a in publish)
    plain = sum(a.saved and not a.delayed for a in publish)
    refused = tally([a.status for a in publish if not a.saved])
    return f"delayed:{delayed},saved:{plain},not_saved:{refused}"
