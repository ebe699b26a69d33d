"""Child processes of a benchmark: Daphne, uvicorn, a throwaway redis-server, each with its log.

Started from the project root (`cwd=ROOT`), so `python -m daphne liveblog.asgi:application` and
`bench.group_fanout:application` import from this checkout. Every process is stopped by its own
PID (SIGTERM, then SIGKILL after a grace period); `stop_all()` ends whatever is still running.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

from bench.common.net import HOST, wait_port

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
HUB_APPLICATION = "liveblog.asgi:application"  # production: the per-process hub (live/hub.py)
GROUP_APPLICATION = "bench.group_fanout:application"  # benchmark only: a group membership per socket

ALL_PROCESSES: list[subprocess.Popen] = []


def stop_process(process: subprocess.Popen | None, grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; only this PID."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def stop_all(grace: float = 5.0) -> None:
    """Every process started through `Managed` that is still running, by PID."""
    for process in ALL_PROCESSES:
        stop_process(process, grace)


class Managed:
    """One child process with its log; started, stopped and restarted by PID only."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], port: int, logdir: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.port = port
        self.logdir = logdir
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.logdir / f"{self.name}-{self.starts}.log"

    def start(self, timeout: float = 60.0) -> None:
        self.starts += 1
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        ALL_PROCESSES.append(self.process)
        if not wait_port(self.port, timeout, self.process):
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self.name} did not start on {self.port}:\n{tail}")

    def stop(self, grace: float = 10.0) -> None:
        stop_process(self.process, grace)

    def kill_hard(self, grace: float, sigkill: bool = False) -> str:
        """SIGTERM, then SIGKILL if still alive after `grace` s (or SIGKILL at once); what ended it."""
        assert self.process is not None
        if sigkill:
            self.process.kill()
            self.process.wait(timeout=10)
            return "SIGKILL"
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=grace)
            return "SIGTERM"
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            return "SIGKILL"


def redis_server(port: int, logdir: Path) -> Managed:
    """A throwaway redis-server: no persistence, its own port (never the shared one)."""
    argv = ["redis-server", "--bind", HOST, "--port", str(port), "--daemonize", "no", "--save", ""]
    argv += ["--appendonly", "no", "--protected-mode", "no"]
    return Managed("redis", argv, dict(os.environ), port, logdir)


def daphne_server(
    port: int, env: dict[str, str], logdir: Path, name: str, application: str = HUB_APPLICATION
) -> Managed:
    argv = [PYTHON, "-m", "daphne", "-v", "0", "-b", HOST, "-p", str(port), application]
    return Managed(f"daphne-{name}", argv, env, port, logdir)


def uvicorn_server(
    port: int, env: dict[str, str], logdir: Path, name: str, application: str = HUB_APPLICATION
) -> Managed:
    argv = [PYTHON, "-m", "uvicorn", "--host", HOST, "--port", str(port), "--log-level", "warning"]
    argv += ["--no-access-log", "--ws", "auto", application]
    return Managed(f"uvicorn-{name}", argv, env, port, logdir)


def raise_fd_limit() -> int:
    """The soft limit of open files raised to the hard one (many sockets); the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc), or nan."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")
