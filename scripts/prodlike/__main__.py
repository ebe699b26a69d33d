"""`make prod`: run the production shape here until Ctrl-C (or SIGTERM), then stop it all.

.venv/bin/python -m scripts.prodlike [--workers N] [--port 8443] [--keep]
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from scripts.prodlike.run import POSTGRES_SERVER, ProdLike, default_workers


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.prodlike", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workers", type=int, default=default_workers(), help="Daphne workers (default: cores)"
    )
    parser.add_argument(
        "--port", type=int, default=8443, help="nginx's HTTPS port on 127.0.0.1 (0: any free)"
    )
    parser.add_argument("--database-url", help="use this database (never dropped) instead of a throwaway one")
    parser.add_argument("--postgres-server", default=POSTGRES_SERVER, help="where the throwaway one is made")
    parser.add_argument("--redis-url", help="use this Redis instead of a throwaway redis-server")
    parser.add_argument("--dir", type=Path, help="the run's files (default .prodlike/run-<random>)")
    parser.add_argument("--keep", action="store_true", help="keep the throwaway database and files at exit")
    parser.add_argument(
        "--worker-header",
        action="store_true",
        help="answers name their worker (X-Liveblog-Worker); tests only",
    )
    return parser.parse_args(argv)


def interrupted(number: int, frame: object) -> None:
    # Once: a second Ctrl-C must not cut the clean-up short (processes, the throwaway database).
    for each in (signal.SIGINT, signal.SIGTERM):
        signal.signal(each, signal.SIG_IGN)
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    options = arguments(argv)
    # SIGTERM ends the run as Ctrl-C does, also while it starts: through the context manager's
    # stop(). Set for SIGINT too, which a shell ignores in background jobs (and Python with it).
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, interrupted)
    site = ProdLike(
        workers=options.workers,
        port=options.port,
        database_url=options.database_url,
        redis_url=options.redis_url,
        postgres_server=options.postgres_server,
        directory=options.dir,
        keep=options.keep,
        worker_header=options.worker_header,
    )
    try:
        with site:
            ports = ", ".join(str(worker.port) for worker in site.workers)
            token = site.env["LIVEBLOG_METRICS_TOKEN"]
            scrape = f'curl -H "Authorization: Bearer {token}" http://{site.worker_address(0)}/metrics'
            print(
                f"""
  Production-like run: nginx on {site.url} in front of {len(site.workers)} Daphne workers (ports {ports})
  Reader page:    {site.url}/live/wahlabend-demo/
  Editors' desk:  {site.url}/admin/   login: redaktion / liveblog-demo
  Certificate:    self-signed, {site.certificate} (your browser will ask once)
  Database:       {site.database_url}{"" if options.database_url or options.keep else "  (dropped at exit)"}
  Redis:          {site.redis_url}
  Logs:           {site.logs}
  Metrics:        {scrape}  (each worker's port)

  Ctrl-C stops everything.
""",
                flush=True,
            )
            while True:
                time.sleep(1)
                dead = [
                    p for p in [site.nginx, *site.workers] if p and p.process and p.process.poll() is not None
                ]
                for process in dead:  # its log goes with the run's directory: show its end first
                    tail = process.log_path.read_text(errors="replace")[-3000:]
                    print(f"{process.name} stopped unexpectedly:\n{tail}", file=sys.stderr)
                if dead:
                    return 1
    except KeyboardInterrupt:
        pass
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
