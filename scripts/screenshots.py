"""Screenshots of the reader page and the editors' desk for docs/screenshots/.

    .venv/bin/python scripts/screenshots.py

Starts the app under Daphne on a free port with a temporary SQLite database (migrate + load_demo,
DJANGO_DEBUG=1), photographs the demo with Playwright and Debian's Chromium (/usr/bin/chromium;
never `playwright install`), writes PNGs to docs/screenshots/ and stops the server.
"""

import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

BASE_DIR = Path(__file__).resolve().parent.parent
OUT = BASE_DIR / "docs" / "screenshots"
HOST = "127.0.0.1"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
LIVE = "/live/wahlabend-demo/"
ARCHIVED = "/live/sturmtief-demo/"
USERNAME, PASSWORD = "redaktion", "liveblog-demo"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
FULL = False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def manage(env: dict, *args: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, check=True, stdout=subprocess.DEVNULL
    )


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"Daphne exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"Daphne did not answer on {url}")


def shoot(
    browser, base: str, name: str, path: str, viewport: dict, scheme: str, *, full_page=False, login=False
):
    context = browser.new_context(
        viewport=viewport, color_scheme=scheme, locale="de-DE", device_scale_factor=1
    )
    page = context.new_page()
    if login:
        page.goto(base + "/admin/login/")
        page.locator("#id_username").fill(USERNAME)
        page.locator("#id_password").fill(PASSWORD)
        page.locator("#login-form [type=submit]").click()
        page.wait_for_url(base + "/admin/")
    page.goto(base + path)
    page.wait_for_load_state("networkidle")
    page.evaluate("document.fonts.ready")
    page.wait_for_timeout(300)
    target = OUT / f"{name}.png"
    page.screenshot(path=str(target), full_page=full_page or FULL, animations="disabled")
    context.close()
    print(f"{target} ({target.stat().st_size // 1024} KB)")
    return page


def composer_path(database: Path) -> str:
    """The composer of the live demo blog."""
    with sqlite3.connect(database) as db:
        (blog_id,) = db.execute(
            "SELECT id FROM posts_liveblog WHERE slug = ?", (LIVE.strip("/").split("/")[-1],)
        ).fetchone()
    return f"/admin/posts/liveblog/{blog_id}/composer/"


def main() -> None:
    global OUT, FULL
    if "--out" in sys.argv:  # e.g. --out /tmp/shots --full: whole pages, for reviewing the design
        OUT = Path(sys.argv[sys.argv.index("--out") + 1]).resolve()
    FULL = "--full" in sys.argv
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="liveblog-shots-") as tmp:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "liveblog.settings",
            "DJANGO_DEBUG": "1",
            "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or "screenshots-only",
            "DATABASE_URL": f"sqlite:///{tmp}/screenshots.sqlite3",
            "DJANGO_MEDIA_ROOT": f"{tmp}/media",
            "DJANGO_ALLOWED_HOSTS": f"{HOST},localhost",
        }
        for name in ("REDIS_URL", "DJANGO_TEST_DATABASE", "CHANNEL_LAYER_PREFIX"):
            env.pop(name, None)
        manage(env, "migrate", "--noinput")
        manage(env, "load_demo")
        port = free_port()
        base = f"http://{HOST}:{port}"
        daphne = Path(sys.executable).with_name("daphne")
        log = open(Path(tmp) / "daphne.log", "wb")  # noqa: SIM115 - closed below
        server = subprocess.Popen(
            [str(daphne), "-b", HOST, "-p", str(port), "liveblog.asgi:application"],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_ready(base + "/", server)
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
                )
                for scheme in ("light", "dark"):
                    shoot(browser, base, f"reader-phone-{scheme}", LIVE, PHONE, scheme)
                    shoot(browser, base, f"reader-desktop-{scheme}", LIVE, DESKTOP, scheme)
                shoot(browser, base, "archived-phone-light", ARCHIVED, PHONE, "light")
                shoot(browser, base, "archived-desktop-light", ARCHIVED, DESKTOP, "light")
                shoot(
                    browser,
                    base,
                    "composer-desktop-light",
                    composer_path(Path(tmp) / "screenshots.sqlite3"),
                    DESKTOP,
                    "light",
                    login=True,
                )
                browser.close()
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
            log.close()


if __name__ == "__main__":
    main()
