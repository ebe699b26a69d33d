"""The production shape on this machine: nginx in front of N Daphne workers, PostgreSQL, Redis.

    with ProdLike(workers=2) as site:      # tests/test_prodlike.py
        site.url                           # https://127.0.0.1:<port>
        site.kill_worker(0)                # SIGKILL, as a crashed process

What it starts, all on 127.0.0.1 and stopped by PID at exit (in reverse):
- a throwaway database `liveblog_prodlike_<random>` on the PostgreSQL server (dropped at exit
  unless `keep`), or the database a given DATABASE_URL names (never dropped);
- a throwaway redis-server on a free port (never the shared one), or a given REDIS_URL;
- migrate, collectstatic, load_demo, with the production settings: DEBUG off, a secret made for
  this run, the SSL redirect, HSTS and Secure cookies on, media served by nginx, forwarded headers
  believed from nginx only (LIVEBLOG_TRUSTED_PROXIES=127.0.0.1, Daphne without --proxy-headers);
- N Daphne workers, each on its own port;
- nginx with deploy/nginx/liveblog.conf.template and a self-signed certificate for 127.0.0.1.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import urllib.parse
from pathlib import Path
from types import TracebackType

from bench.common.db import create_postgres_database, drop_postgres_database
from bench.common.net import HOST, free_port
from bench.common.servers import PYTHON, ROOT, Managed, daphne_server, redis_server

from .nginx import TEMPLATE, main_config, nginx_process, render, self_signed_certificate

POSTGRES_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
# Variables this run sets itself; inherited values (a developer's DEBUG=1, a test's database)
# must not leak into a production-like process.
OWN_PREFIXES = ("DJANGO_", "LIVEBLOG_")
OWN_NAMES = ("DATABASE_URL", "REDIS_URL", "CHANNEL_LAYER_PREFIX")
WORKER_HEADER = "X-Liveblog-Worker"


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class ProdLike:
    def __init__(
        self,
        *,
        workers: int | None = None,
        port: int = 0,
        database_url: str | None = None,
        redis_url: str | None = None,
        postgres_server: str = POSTGRES_SERVER,
        directory: Path | None = None,
        keep: bool = False,
        demo: bool = True,
        worker_header: bool = False,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.worker_count = workers or default_workers()
        self.port = port or free_port()
        self.given_database = database_url
        self.given_redis = redis_url
        self.postgres_server = postgres_server
        self.directory = (directory or ROOT / ".prodlike" / f"run-{secrets.token_hex(4)}").resolve()
        self.keep = keep
        self.demo = demo
        self.worker_header = worker_header
        self.extra_env = extra_env or {}
        self.database_url = database_url or ""
        self.redis_url = redis_url or ""
        self.created_database = ""
        self.redis: Managed | None = None
        self.workers: list[Managed] = []
        self.nginx: Managed | None = None
        self.env: dict[str, str] = {}

    # ---- addresses ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"https://{HOST}:{self.port}"

    @property
    def certificate(self) -> Path:
        return self.directory / "tls" / "cert.pem"

    def worker_address(self, index: int) -> str:
        """What nginx's $upstream_addr (the X-Liveblog-Worker header) says for this worker."""
        return f"{HOST}:{self.workers[index].port}"

    @property
    def logs(self) -> Path:
        return self.directory / "logs"

    # ---- start and stop ----------------------------------------------------------------------

    def __enter__(self) -> ProdLike:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        self._database()
        self._redis()
        self.env = self._environment()
        self.manage("migrate", "--noinput", "-v", "0")
        self.manage("collectstatic", "--noinput", "-v", "0")
        if self.demo:
            self.manage("load_demo")
        for index in range(self.worker_count):
            worker = daphne_server(free_port(), self.env, self.logs, f"worker-{index + 1}")
            worker.start()
            self.workers.append(worker)
        self.nginx = self._nginx()
        self.nginx.start(timeout=15)

    def stop(self) -> None:
        """Everything this run started, by PID, in reverse; its database unless kept."""
        for process in [self.nginx, *reversed(self.workers), self.redis]:
            if process is not None:
                process.stop(grace=10)
        if self.created_database and not self.keep:
            self._drop_database()
        if not self.keep:
            shutil.rmtree(self.directory, ignore_errors=True)

    def kill_worker(self, index: int) -> None:
        """SIGKILL, as a crashed process."""
        self.workers[index].kill_hard(0, sigkill=True)

    def manage(self, *args: str) -> None:
        subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=self.env, check=True)

    # ---- the pieces --------------------------------------------------------------------------

    def _database(self) -> None:
        if self.given_database:
            return
        name = f"liveblog_prodlike_{secrets.token_hex(4)}"
        parts = urllib.parse.urlsplit(self.postgres_server)
        self.database_url = urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))
        create_postgres_database(self.database_url)
        self.created_database = name

    def _drop_database(self) -> None:
        drop_postgres_database(self.database_url)
        self.created_database = ""

    def _redis(self) -> None:
        if self.given_redis:
            return
        port = free_port()
        self.redis = redis_server(port, self.logs)
        self.redis.start(timeout=15)
        self.redis_url = f"redis://{HOST}:{port}/0"

    def _environment(self) -> dict[str, str]:
        inherited = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(OWN_PREFIXES) and name not in OWN_NAMES
        }
        return {
            **inherited,
            "DJANGO_SETTINGS_MODULE": "liveblog.settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": HOST,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "CHANNEL_LAYER_PREFIX": f"liveblog-prodlike-{secrets.token_hex(4)}",
            "DJANGO_STATIC_ROOT": str(self.directory / "static"),
            "DJANGO_MEDIA_ROOT": str(self.directory / "media"),
            "DJANGO_SERVE_MEDIA": "0",
            # nginx connects to the workers from 127.0.0.1: only that hop's X-Forwarded-For counts.
            "LIVEBLOG_TRUSTED_PROXIES": HOST,
            # Scraped per worker, on its own port (nginx refuses /metrics).
            "LIVEBLOG_METRICS_TOKEN": secrets.token_urlsafe(32),
            **self.extra_env,
        }

    def _nginx(self) -> Managed:
        directory = self.directory / "nginx"
        (directory / "logs").mkdir(parents=True, exist_ok=True)
        (self.directory / "media").mkdir(exist_ok=True)
        self.certificate.parent.mkdir(exist_ok=True)
        key = self.certificate.with_name("key.pem")
        self_signed_certificate(self.certificate, key, HOST)
        values = {
            "PROXY_RESOLVER": HOST,  # unused: every upstream is an address
            "PROXY_LISTEN": f"{HOST}:{self.port}",
            "PROXY_TLS_CERT": str(self.certificate),
            "PROXY_TLS_KEY": str(key),
            "PROXY_STATIC_ROOT": self.env["DJANGO_STATIC_ROOT"],
            "PROXY_MEDIA_ROOT": self.env["DJANGO_MEDIA_ROOT"],
            "PROXY_WORKER_HEADER": "$upstream_addr" if self.worker_header else "",
        }
        upstreams = [self.worker_address(index) for index in range(len(self.workers))]
        site = directory / "liveblog.conf"
        site.write_text(render(TEMPLATE.read_text(encoding="utf-8"), values, upstreams), encoding="utf-8")
        config = directory / "nginx.conf"
        config.write_text(main_config(directory, site), encoding="utf-8")
        return nginx_process(directory, config, self.port, self.logs)
