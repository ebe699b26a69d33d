"""The PostgreSQL connection pool: settings from the environment, and the bound it puts on connections.

Settings are read in a fresh interpreter per environment (as Daphne would read them); the bound is
checked with a child process whose threads query the test database while this process counts that
child's connections in pg_stat_activity (the child sets PGAPPNAME, so they can be told apart).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from tests.servers import test_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
POSTGRES_URL = "postgres://liveblog@db.example.org:5432/liveblog"
OUR_VARIABLES = ("DATABASE_URL", "DJANGO_CONN_MAX_AGE", "DJANGO_DB_POOL_MAX_SIZE", "DJANGO_DB_POOL_TIMEOUT")


def child_env(**variables: str) -> dict[str, str]:
    """Production environment (DEBUG off) with only the given database variables set."""
    env = {name: value for name, value in os.environ.items() if name not in OUR_VARIABLES}
    env.update(
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="test-db-pool-" + uuid.uuid4().hex,
        DJANGO_SETTINGS_MODULE="liveblog.settings",
        **variables,
    )
    return env


def database_settings(**variables: str) -> subprocess.CompletedProcess:
    code = (
        "import json; from liveblog import settings; d = settings.DATABASES['default'];"
        "print(json.dumps({'CONN_MAX_AGE': d['CONN_MAX_AGE'], 'pool': d.get('OPTIONS', {}).get('pool')}))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=child_env(**variables),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("variables", "pool"),
    [
        ({"DATABASE_URL": POSTGRES_URL}, {"min_size": 2, "max_size": 10, "timeout": 3.0}),
        (
            {"DATABASE_URL": POSTGRES_URL, "DJANGO_DB_POOL_MAX_SIZE": "4", "DJANGO_DB_POOL_TIMEOUT": "2.5"},
            {"min_size": 2, "max_size": 4, "timeout": 2.5},
        ),
        (
            {"DATABASE_URL": POSTGRES_URL, "DJANGO_DB_POOL_MAX_SIZE": "1"},
            {"min_size": 1, "max_size": 1, "timeout": 3.0},
        ),
        ({"DATABASE_URL": POSTGRES_URL, "DJANGO_DB_POOL_MAX_SIZE": "0"}, None),
        ({"DATABASE_URL": "sqlite:////tmp/liveblog-pool-settings.sqlite3"}, None),
    ],
    ids=["production-default", "configured", "one", "turned-off", "sqlite"],
)
def test_pool_settings_follow_the_environment(variables, pool):
    result = database_settings(**variables)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {"CONN_MAX_AGE": 0, "pool": pool}


def test_persistent_connections_replace_the_default_pool():
    # bench.faults' editor process asks for DJANGO_CONN_MAX_AGE=60; Django refuses both at once.
    result = database_settings(DATABASE_URL=POSTGRES_URL, DJANGO_CONN_MAX_AGE="60")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {"CONN_MAX_AGE": 60, "pool": None}


def test_asking_for_both_a_pool_and_persistent_connections_stops_the_process():
    result = database_settings(
        DATABASE_URL=POSTGRES_URL, DJANGO_CONN_MAX_AGE="60", DJANGO_DB_POOL_MAX_SIZE="10"
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_DB_POOL_MAX_SIZE needs DJANGO_CONN_MAX_AGE=0" in result.stderr


# On PostgreSQL ------------------------------------------------------------------------------------

# Each thread runs one query as a request would (its own connection from Django, handed back by
# connection.close() as at the end of a request) and reports "ok" or the database error.
THREADS_SCRIPT = """
import json, sys
from concurrent.futures import ThreadPoolExecutor

import django

django.setup()
from django.db import OperationalError, connection

threads, seconds = int(sys.argv[1]), float(sys.argv[2])


def query(_):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(%s)", [seconds])
        return "ok"
    except OperationalError as error:
        return str(error)
    finally:
        connection.close()


with ThreadPoolExecutor(threads) as executor:
    print(json.dumps(list(executor.map(query, range(threads)))))
"""


def run_threads(threads: int, seconds: float, **variables: str) -> tuple[list[str], int]:
    """Run THREADS_SCRIPT in a child; its per-thread results and its peak connection count."""
    app_name = f"liveblog-pool-test-{uuid.uuid4().hex[:8]}"
    url = test_database_url()
    env = child_env(DATABASE_URL=url, PGAPPNAME=app_name, **variables)
    peak = 0
    with psycopg.connect(url, autocommit=True) as counter:
        child = subprocess.Popen(
            [sys.executable, "-c", THREADS_SCRIPT, str(threads), str(seconds)],
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            while child.poll() is None:
                (count,) = counter.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [app_name]
                ).fetchone()
                peak = max(peak, count)
                time.sleep(0.02)
            stdout, stderr = child.communicate(timeout=60)
        finally:
            if child.poll() is None:
                child.kill()
                child.communicate()
    assert child.returncode == 0, stderr
    return json.loads(stdout.splitlines()[-1]), peak


@pytest.mark.postgres
@pytest.mark.django_db
def test_pool_caps_connections_while_more_threads_query():
    results, peak = run_threads(8, 0.3, DJANGO_DB_POOL_MAX_SIZE="2")
    assert results == ["ok"] * 8  # the other six waited for a connection, none failed
    assert 1 <= peak <= 2


@pytest.mark.postgres
@pytest.mark.django_db
def test_without_the_pool_each_thread_opens_its_own_connection():
    # The contrast that makes the test above mean something.
    results, peak = run_threads(8, 0.5, DJANGO_DB_POOL_MAX_SIZE="0")
    assert results == ["ok"] * 8
    assert peak > 2


@pytest.mark.postgres
@pytest.mark.django_db
def test_saturated_pool_fails_with_a_clear_error_after_its_timeout():
    # One thread holds the only connection for 2 s; the other gives up after 0.5 s instead of waiting.
    results, peak = run_threads(2, 2.0, DJANGO_DB_POOL_MAX_SIZE="1", DJANGO_DB_POOL_TIMEOUT="0.5")
    assert sorted(results) == ["couldn't get a connection after 0.50 sec", "ok"]
    assert peak == 1


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_server_cancels_slow_statements_and_lock_waits():
    # A stuck transaction holding a blog's row lock, or a runaway query, costs seconds, not minutes.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "30s"
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone()[0] == "10s"
    assert connection.get_connection_params()["connect_timeout"] == 3
