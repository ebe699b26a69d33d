"""What every benchmark repeats, in one place: `from bench.common import ...`.

- reader.py, catchup.py: LiveReader, a reader that follows the live client (static/js/live/):
  socket, catch-up, reconnect; for the fault drills;
- rawws.py: RawSocket, a minimal WebSocket client for fan-out latency with many sockets;
- db.py: the servers' environment, Django in the benchmark's process, a database created or
  dropped, a blog, an editor, counting logged errors;
- servers.py: Daphne / uvicorn / a throwaway redis-server as child processes with logs, stopped
  by PID; file-descriptor limit, RSS and CPU of a process;
- net.py: free ports, waiting for a port, source addresses 127.0.0.x, a plain HTTP GET;
- stats.py: percentiles, tallies, Markdown tables, list options, --smoke defaults.
"""

from bench.common.db import (
    admin_url,
    check_local,
    count_log,
    create_postgres_database,
    drop_postgres_database,
    ensure_postgres_database,
    make_blog,
    make_editor,
    server_env,
    setup_django,
)
from bench.common.net import HOST, free_port, http_get, source_address, unchunk, wait_port
from bench.common.rawws import RawSocket
from bench.common.reader import LiveReader, ReaderStats
from bench.common.servers import (
    GROUP_APPLICATION,
    HUB_APPLICATION,
    PYTHON,
    ROOT,
    Managed,
    cpu_seconds,
    daphne_server,
    raise_fd_limit,
    redis_server,
    rss_kib,
    stop_all,
    stop_process,
    uvicorn_server,
)
from bench.common.stats import csv_choices, csv_ints, markdown_table, pct, smoke_defaults, tally

__all__ = [
    "GROUP_APPLICATION",
    "HOST",
    "HUB_APPLICATION",
    "PYTHON",
    "ROOT",
    "LiveReader",
    "Managed",
    "RawSocket",
    "ReaderStats",
    "admin_url",
    "check_local",
    "count_log",
    "cpu_seconds",
    "create_postgres_database",
    "csv_choices",
    "csv_ints",
    "daphne_server",
    "drop_postgres_database",
    "ensure_postgres_database",
    "free_port",
    "http_get",
    "make_blog",
    "make_editor",
    "markdown_table",
    "pct",
    "raise_fd_limit",
    "redis_server",
    "rss_kib",
    "server_env",
    "setup_django",
    "smoke_defaults",
    "source_address",
    "stop_all",
    "stop_process",
    "tally",
    "unchunk",
    "uvicorn_server",
    "wait_port",
]
