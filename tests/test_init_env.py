"""scripts/init-env: the deployment's secrets are written once and never regenerated.

A regenerated POSTGRES_PASSWORD locks the app out of the database PostgreSQL initialised with the
first one; a regenerated secret key logs every editor out. So a second run must change nothing.
"""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

from django.conf import settings

SCRIPT = Path(settings.BASE_DIR) / "scripts" / "init-env"


def init_env(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--file", str(tmp_path / ".env"), *args],
        capture_output=True,
        text=True,
        timeout=30,
    )


def values(path: Path) -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in path.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    return {name: value for name, value in pairs}


def test_first_run_writes_every_secret_and_the_hosts_readable_only_by_the_owner(tmp_path):
    result = init_env(tmp_path, "--host", "liveblog.example.org", "--host", "www.example.org")
    assert result.returncode == 0, result.stderr
    env = values(tmp_path / ".env")
    assert env["DJANGO_ALLOWED_HOSTS"] == "liveblog.example.org,www.example.org"
    assert env["DJANGO_CSRF_TRUSTED_ORIGINS"] == "https://liveblog.example.org,https://www.example.org"
    assert len(env["DJANGO_SECRET_KEY"]) >= 50
    # It goes into DATABASE_URL unquoted: hex only.
    assert len(env["POSTGRES_PASSWORD"]) == 64 and int(env["POSTGRES_PASSWORD"], 16) >= 0
    assert len(env["LIVEBLOG_METRICS_TOKEN"]) >= 32
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600


def test_a_second_run_changes_nothing(tmp_path):
    init_env(tmp_path, "--host", "liveblog.example.org")
    before = (tmp_path / ".env").read_bytes()

    again = init_env(tmp_path, "--host", "other.example.org")
    plain = init_env(tmp_path)

    assert again.returncode == 0 and plain.returncode == 0
    assert (tmp_path / ".env").read_bytes() == before
    assert "already set" in again.stdout


def test_a_file_from_an_older_release_gets_only_what_it_lacks(tmp_path):
    (tmp_path / ".env").write_text(
        "DJANGO_SECRET_KEY=kept-key\nPOSTGRES_PASSWORD=kept-password\n"
        "DJANGO_ALLOWED_HOSTS=liveblog.example.org\nDJANGO_CSRF_TRUSTED_ORIGINS=https://liveblog.example.org"
    )

    result = init_env(tmp_path)

    assert result.returncode == 0, result.stderr
    env = values(tmp_path / ".env")
    assert env["DJANGO_SECRET_KEY"] == "kept-key"
    assert env["POSTGRES_PASSWORD"] == "kept-password"
    assert len(env["LIVEBLOG_METRICS_TOKEN"]) >= 32
    assert "added LIVEBLOG_METRICS_TOKEN" in result.stdout


def test_the_first_run_needs_a_valid_host(tmp_path):
    missing = init_env(tmp_path)
    bad = init_env(tmp_path, "--host", "https://liveblog.example.org/")

    assert missing.returncode == 2 and "--host" in missing.stderr
    assert bad.returncode == 2 and "not a host name" in bad.stderr
    assert not (tmp_path / ".env").exists()
