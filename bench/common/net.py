"""Loopback networking for the benchmarks: free ports, waiting for a server, plain HTTP GETs.

Everything stays on 127.0.0.x. `source_address` spreads many clients over 127.0.0.2, 127.0.0.3, ...
so that they stay under the server's per-address socket cap.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl as ssl_module
import subprocess
import time

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float, process: subprocess.Popen | None = None) -> bool:
    """Whether something accepts connections on `port` within `timeout` s (False if `process` ends)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def source_address(index: int, per_address: int) -> str:
    """127.0.0.2, 127.0.0.3, ...: `per_address` readers each (the server caps sockets per address)."""
    n = index // per_address
    return f"127.0.{n // 250}.{n % 250 + 2}"


def unchunk(body: bytes) -> bytes:
    """An HTTP/1.1 chunked body, joined."""
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return out


async def http_get(
    port: int,
    path: str,
    *,
    local_host: str = HOST,
    headers: dict[str, str] | None = None,
    ssl: ssl_module.SSLContext | None = None,
) -> tuple[int, bytes]:
    """One HTTP/1.1 GET to 127.0.0.1:`port` (Connection: close): (status, body, unchunked).

    Over TLS with `ssl` (tests/prodlike.py, through nginx). Unbounded: callers wrap it in
    asyncio.wait_for.
    """
    stream, writer = await asyncio.open_connection(HOST, port, ssl=ssl, local_addr=(local_host, 0))
    try:
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n{extra}Connection: close\r\n\r\n".encode()
        )
        raw = await stream.read(-1)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        body = unchunk(body)
    return status, body
