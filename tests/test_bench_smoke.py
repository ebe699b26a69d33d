"""A short run of every benchmark in bench/, as CI makes it: each exits 0 and prints its figures.

Each runs as `python -m bench.<name> --smoke ...` from the project root, in a subprocess (they set
up Django themselves, start their own Daphne/uvicorn/redis-server and stop them by PID). The
figures are tiny (3-4 readers, a few posts, seconds-long faults): this checks that the benchmarks
run and report, not what they measure. They share one database of their own on the test run's
PostgreSQL (`liveblog_bench_smoke_<random>`, created and migrated by the first, dropped at the
end); live_fanout uses the test run's Redis under a fresh key prefix and deletes its keys; the
fault drills start throwaway redis-server instances (and postgres-down a throwaway cluster).

All of them together: 152 s on a shared 2-core machine (load average ~4 from other work), of which
the fault drills take ~100 s (postgres-down ~40 s: initdb, migrations, 9 s without PostgreSQL);
the hung-service drills (Redis, then a throwaway PostgreSQL stopped 9 s each) add ~55 s.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.parse
import uuid
from pathlib import Path

import pytest

from bench.common.db import drop_postgres_database
from tests.conftest import REDIS_URL, _missing

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench_database() -> str:
    """The benchmarks' database URL: the test run's PostgreSQL, a database of this module's own."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    name = f"liveblog_bench_smoke_{uuid.uuid4().hex[:8]}"
    user = urllib.parse.quote(db.get("USER") or "postgres")
    password = f":{urllib.parse.quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    url = f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{name}"
    yield url
    drop_postgres_database(url)


def run_bench(module: str, *args: str, timeout: float) -> str:
    """`python -m bench.<module> --smoke ARGS`: its output (stdout, then stderr) once it exits 0.

    Past `timeout` it gets SIGINT, so that it stops its servers by PID on the way out.
    """
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "liveblog.settings",
        "CHANNEL_LAYER_PREFIX": f"bench-smoke-{uuid.uuid4().hex[:8]}",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", f"bench.{module}", "--smoke", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
        try:
            stdout, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
        pytest.fail(f"bench.{module} ran over {timeout:.0f} s:\n{stdout[-3000:]}\n{stderr[-3000:]}")
    output = f"{stdout}\n{stderr}"
    assert process.returncode == 0, f"bench.{module} exited {process.returncode}:\n{output[-6000:]}"
    return stdout


def need_redis_server() -> None:
    if not shutil.which("redis-server"):
        _missing("the fault drills start throwaway instances of redis-server, which is not installed")


def need_throwaway_cluster(drill: str) -> None:
    """What bench/faults/postgres_down/cluster.py needs for a cluster of its own."""
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")) or not shutil.which("runuser"):
        _missing(f"{drill} needs PostgreSQL's server binaries (/usr/lib/postgresql/*/bin) and runuser")
    if os.geteuid() != 0:
        _missing(f"{drill} runs its throwaway cluster as the postgres OS user (runuser): needs root")


def test_uploads():
    out = run_bench("uploads", timeout=120)
    assert re.search(r"^png-header-50000x50000 +[\d.]+ \w*B +[\d.]+ ms .* rejected \(bomb\)", out, re.M), out
    assert re.search(r"^gif-html-polyglot .* re-encoded as WebP, widths 120", out, re.M), out


@pytest.mark.postgres
def test_reader_page(bench_database):
    out = run_bench("reader_page", "--database-url", bench_database, timeout=120)
    assert "LIVEBLOG_CATCH_UPS_PER_CLIENT=0" in out, out
    for phase in ("page", "catch-up cached", "catch-up distinct"):
        line = rf"^\| \S+ +\| 1 +\| {phase} +\| 2 +\| [\d.]+ +\| (\d+) +\| [\d.]+ +\|.*\| 200x\1 +\|$"
        assert re.search(line, out, re.M), out


@pytest.mark.postgres
def test_publish_rate(bench_database):
    out = run_bench("publish_rate", "--database-url", bench_database, timeout=120)
    for processes in (1, 2):
        line = rf"^{processes} editor process\(es\): 10/10 posts in [\d.]+ s = \d+ posts/s$"
        assert re.search(line, out, re.M), out


def fanout_row(server: str, fanout: str) -> str:
    # | server | fanout | readers | connected | connect s | delivered/expected | dropped | p50 ms ...
    return rf"^\| {server} +\| {fanout} +\| 3 +\| 3 +\| [\d.]+ +\| 6/6 +\| 0 +\| [\d.]+ +\|"


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.parametrize(
    ("servers", "fanout", "timeout"),
    [("daphne,uvicorn", "hub", 150), ("daphne", "group", 120)],
    ids=["hub", "group"],
)
def test_live_fanout(bench_database, servers, fanout, timeout):
    out = run_bench(
        "live_fanout",
        *("--servers", servers, "--fanout", fanout),
        *("--database-url", bench_database, "--redis-url", REDIS_URL),
        timeout=timeout,
    )
    summary = out.split("All runs:", 1)[1]
    for server in servers.split(","):
        assert re.search(fanout_row(server, fanout), summary, re.M), out


FAULT_LINES = {
    "redis-outage": r"redis-outage",
    "redis-wipe": r"redis-wipe\(restart\)",
    "burst": r"burst",
    "daphne-kill": r"daphne-kill",
    "archive": r"archive",
    "editors": r"editors",
    "postgres-down": r"postgres-down",
    "hung-redis": r"hung-redis",
    "hung-postgres": r"hung-postgres",
}


def check_faults(out: str, scenarios: list[str]) -> None:
    for name in scenarios:
        assert re.search(rf"^\[{FAULT_LINES[name]}\] PASS readers=\d+ db_posts=\d+ ", out, re.M), out
    table = out.split("All scenarios (", 1)[1]
    for name in scenarios:
        assert re.search(rf"^\| {FAULT_LINES[name]} +\| PASS +\|", table, re.M), out


@pytest.mark.postgres
def test_faults(bench_database):
    need_redis_server()
    scenarios = ["redis-outage", "redis-wipe", "burst", "daphne-kill", "archive", "editors"]
    out = run_bench(
        "faults", "--scenario", ",".join(scenarios), "--database-url", bench_database, timeout=300
    )
    check_faults(out, scenarios)


@pytest.mark.postgres
def test_faults_postgres_down(bench_database):
    """Its shortest run: a throwaway cluster, PostgreSQL down 9 s under 3 readers and an editor."""
    need_redis_server()
    need_throwaway_cluster("postgres-down")
    out = run_bench("faults", "--scenario", "postgres-down", "--database-url", bench_database, timeout=180)
    check_faults(out, ["postgres-down"])


@pytest.mark.postgres
def test_faults_hung_services(bench_database):
    """Redis, then a throwaway PostgreSQL, hung (SIGSTOP) for 9 s under 3 readers, an editor and probes."""
    need_redis_server()
    need_throwaway_cluster("hung-postgres")
    scenarios = ["hung-redis", "hung-postgres"]
    out = run_bench(
        "faults", "--scenario", ",".join(scenarios), "--database-url", bench_database, timeout=240
    )
    check_faults(out, scenarios)
    for name in scenarios:
        line = re.search(rf"^\[{name}\] .*$", out, re.M).group(0)
        assert re.search(r" false_saved=0 .* http_500=0 no_answer=0 ", line), line
        assert re.search(r" hung_readyz=\S*503", line), line


@pytest.mark.postgres
def test_backup_drill(bench_database):
    """The demo plus a 200-post blog backed up and restored: every page and image identical (~25 s)."""
    server = urllib.parse.urlunsplit(urllib.parse.urlsplit(bench_database)._replace(path=""))
    out = run_bench("backup", "--server-url", server, timeout=180)
    assert re.search(
        r"^\| database +\| [\d.]+ MiB +\| [\d.]+ MiB +\| [\d.]+ s +\| [\d.]+ s +\|$", out, re.M
    ), out
    line = r"^backup drill: PASS posts=200 photos=2 pages=\d+ differing=0 media_identical=yes$"
    assert re.search(line, out, re.M), out
