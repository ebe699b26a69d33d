"""Logs (ops/logs.py, settings.LOGGING): JSON lines in production with the request's context.

The settings decide the format when Django starts, so each case starts a Python process of its own
with the environment under test, logs and answers a request there, and reads its stderr as a log
shipper would: line by line.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
from django.conf import settings

from ops import logs

SCRIPT = """
import logging, os, warnings
import django

django.setup()
from django.test import Client

log = logging.getLogger("liveblog.test")
log.info("plain %s", "message", extra={"blog": "wahlabend"})
try:
    1 / 0
except ZeroDivisionError:
    log.exception("it broke")
forwarded = {"HTTP_X_FORWARDED_FOR": os.environ["FORWARDED_FOR"]} if "FORWARDED_FOR" in os.environ else {}
Client().get("/metrics", REMOTE_ADDR="203.0.113.9", **forwarded)
warnings.warn("a warning of several\\nlines")
"""


def run_app(**environment: str) -> list[str]:
    """stderr lines of a process that starts Django with `environment`, logs, and answers a request."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "LIVEBLOG_"))},
        "PYTHONPATH": str(settings.BASE_DIR),
        "DJANGO_SETTINGS_MODULE": "liveblog.settings",
        "DJANGO_SECRET_KEY": "logging-test",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_ALLOWED_HOSTS": "testserver",
        # /metrics with a token set and none sent: a 403, which Django's request logger reports.
        "LIVEBLOG_METRICS_TOKEN": "some-token",
        **environment,
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stderr.splitlines()


def by_logger(records: list[dict], name: str) -> list[dict]:
    return [record for record in records if record["logger"] == name]


def test_production_logs_one_json_object_per_line_with_the_usual_fields():
    lines = run_app()  # DJANGO_DEBUG off: JSON by default
    records = [json.loads(line) for line in lines]  # every line, not just ours
    assert all({"timestamp", "level", "logger", "message"} <= record.keys() for record in records)
    [plain] = by_logger(records, "liveblog.test")[:1]
    assert plain["message"] == "plain message"
    assert plain["level"] == "INFO"
    assert plain["blog"] == "wahlabend"  # extra fields are fields
    assert plain["timestamp"].endswith("+00:00")


def test_an_exception_is_one_line_with_its_traceback_in_a_field():
    records = [json.loads(line) for line in run_app()]
    [error] = [record for record in by_logger(records, "liveblog.test") if record["level"] == "ERROR"]
    assert error["message"] == "it broke"
    assert error["exception"].startswith("Traceback (most recent call last):")
    assert error["exception"].endswith("ZeroDivisionError: division by zero")
    assert "\n" in error["exception"]  # the newlines are inside the JSON string, not in the log
    # Python warnings too: one record each, not lines of text between the JSON.
    [warning] = by_logger(records, "py.warnings")[-1:]
    assert "a warning of several\nlines" in warning["message"]


def test_request_lines_carry_path_status_client_and_duration():
    records = [json.loads(line) for line in run_app()]
    [access] = by_logger(records, "liveblog.access")
    assert access["message"] == "GET /metrics 403"
    assert (access["method"], access["path"], access["status"]) == ("GET", "/metrics", 403)
    assert access["client"] == "203.0.113.9"
    assert access["duration_ms"] >= 0
    # What Django says about the answer carries the same context.
    [refused] = by_logger(records, "django.request")
    assert refused["message"] == "Forbidden: /metrics"
    assert (refused["path"], refused["client"], refused["status_code"]) == ("/metrics", "203.0.113.9", 403)


def test_behind_a_trusted_proxy_the_client_is_the_forwarded_address():
    # The request comes from 203.0.113.9, our proxy, for 198.51.100.4 (ops/clients.py).
    lines = run_app(LIVEBLOG_TRUSTED_PROXIES="203.0.113.9", FORWARDED_FOR="198.51.100.4")
    [access] = by_logger([json.loads(line) for line in lines], "liveblog.access")
    assert access["client"] == "198.51.100.4"


def test_a_developer_gets_text_and_can_ask_for_json():
    text = run_app(DJANGO_DEBUG="1")
    assert any(" INFO liveblog.test: plain message" in line for line in text)
    assert not any(line.startswith("{") for line in text)
    assert not any("liveblog.access" in line for line in text)  # Daphne prints its access lines
    as_json = [json.loads(line) for line in run_app(DJANGO_DEBUG="1", LIVEBLOG_LOG_FORMAT="json")]
    assert by_logger(as_json, "liveblog.access")


def test_an_unknown_format_stops_the_start():
    env = {
        **os.environ,
        "PYTHONPATH": str(settings.BASE_DIR),
        "DJANGO_SETTINGS_MODULE": "liveblog.settings",
        "DJANGO_SECRET_KEY": "logging-test",
        "LIVEBLOG_LOG_FORMAT": "xml",
    }
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "LIVEBLOG_LOG_FORMAT must be json or text" in done.stderr


@pytest.mark.django_db
def test_records_logged_while_answering_carry_the_request_context(client, monkeypatch):
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    handler = Keep()
    handler.addFilter(logs.RequestContextFilter())
    logger = logging.getLogger("liveblog.middleware")  # the 503 middleware's warning
    logger.addHandler(handler)
    monkeypatch.setattr(logger, "level", logging.INFO)
    try:
        from django.db import OperationalError

        from live import views

        def unreachable(request, slug):
            raise OperationalError("connection refused")

        monkeypatch.setattr(views, "_events_response", unreachable)
        assert client.get("/live/wahlabend/events/", REMOTE_ADDR="192.0.2.7").status_code == 503
    finally:
        logger.removeHandler(handler)
    [warning] = seen
    assert (warning.method, warning.path, warning.client) == ("GET", "/live/wahlabend/events/", "192.0.2.7")
    assert logs.JsonFormatter().format(warning).count("\n") == 0
