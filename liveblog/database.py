"""The database settings, from DATABASE_URL and the DJANGO_DB_* variables (see README)."""

import os
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured


def database_from_environment(base_dir: Path) -> dict[str, Any]:
    """DATABASES["default"]: PostgreSQL from DATABASE_URL in production, else a SQLite file."""
    database: dict[str, Any] = dict(
        dj_database_url.config(
            env="DATABASE_URL",
            default=f"sqlite:///{base_dir / 'db.sqlite3'}",
            conn_max_age=int(os.environ.get("DJANGO_CONN_MAX_AGE", "0")),
            conn_health_checks=True,
        )
    )
    # PostgreSQL connection pool (psycopg_pool, built into Django): Daphne runs every sync view in a
    # thread of its own, so without it each concurrent request holds its own connection and a burst
    # can use up the server's max_connections (shared by every process: keep processes × max size
    # below it). A request that finds the pool full (or the database down) waits DJANGO_DB_POOL_TIMEOUT
    # seconds, then fails with OperationalError "couldn't get a connection", which
    # liveblog.middleware turns into a 503 + Retry-After, instead of queueing without end. 3 s: an
    # editor under deadline learns quickly that nothing was saved; a reader's catch-up just retries.
    # An idle process keeps min_size connections open. DJANGO_DB_POOL_MAX_SIZE=0 turns the pool off.
    # Django refuses a pool with persistent connections, so a non-zero DJANGO_CONN_MAX_AGE (e.g.
    # bench.faults' editor process) means no pool. Tests run with it, as production does: Django
    # closes the pool before it clones or drops a test database (tests/test_db_pool.py).
    db_pool_max_size = int(os.environ.get("DJANGO_DB_POOL_MAX_SIZE", "10"))
    if database["ENGINE"] == "django.db.backends.postgresql" and db_pool_max_size > 0:
        if database["CONN_MAX_AGE"] == 0:
            database.setdefault("OPTIONS", {})["pool"] = {
                "min_size": min(2, db_pool_max_size),
                "max_size": db_pool_max_size,
                "timeout": float(os.environ.get("DJANGO_DB_POOL_TIMEOUT", "3")),
            }
        elif "DJANGO_DB_POOL_MAX_SIZE" in os.environ:
            raise ImproperlyConfigured(
                "DJANGO_DB_POOL_MAX_SIZE needs DJANGO_CONN_MAX_AGE=0: Django's pool replaces persistent "
                "connections. Set DJANGO_DB_POOL_MAX_SIZE=0 to use DJANGO_CONN_MAX_AGE instead."
            )
    if database["ENGINE"] == "django.db.backends.postgresql":
        # A database that does not answer must cost a request seconds, not minutes: a new connection
        # gives up after DJANGO_DB_CONNECT_TIMEOUT; the server cancels a statement after
        # DJANGO_DB_STATEMENT_TIMEOUT and a wait for a lock (a blog row held by a stuck transaction)
        # after DJANGO_DB_LOCK_TIMEOUT (seconds). Both surface as errors the 503 middleware answers.
        db_options = database.setdefault("OPTIONS", {})
        db_options.setdefault("connect_timeout", int(os.environ.get("DJANGO_DB_CONNECT_TIMEOUT", "3")))
        statement_timeout = float(os.environ.get("DJANGO_DB_STATEMENT_TIMEOUT", "30"))
        db_options.setdefault(
            "options",
            f"-c statement_timeout={int(statement_timeout * 1000)} "
            f"-c lock_timeout={int(float(os.environ.get('DJANGO_DB_LOCK_TIMEOUT', '10')) * 1000)}",
        )
        # A *hung* server (stopped, frozen) enforces none of that, and an open connection waits for
        # ever: our backend (liveblog/postgresql/) probes a server silent for DJANGO_DB_ANSWER_TIMEOUT
        # seconds with a new connection and, if that gets no answer either, closes the connection
        # (503). Any wait ends by the statement timeout plus that much.
        answer_timeout = float(os.environ.get("DJANGO_DB_ANSWER_TIMEOUT", "3"))
        database["ENGINE"] = "liveblog.postgresql"
        database["WATCHDOG"] = {"answer_timeout": answer_timeout, "limit": statement_timeout + answer_timeout}
    # Live-server tests run Daphne in a child process that must find the same test database.
    database["TEST"] = {"NAME": os.environ.get("DJANGO_TEST_DATABASE", "test_liveblog")}
    if database["ENGINE"].endswith("sqlite3"):
        database["TEST"]["NAME"] = os.environ.get("DJANGO_TEST_DATABASE", str(base_dir / ".test_db.sqlite3"))
        # SQLite has no row locks (select_for_update is a no-op): take the write lock when a
        # transaction begins, so two editors publishing at once queue instead of colliding on seq.
        database.setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
    return database
