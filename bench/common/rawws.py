"""A minimal RFC 6455 client on asyncio streams, for fan-out measurements with many sockets.

No third-party WebSocket library: reading a frame costs as little as possible in the benchmark's
own process, so that its latency figures measure the server. Answers the server's pings.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os

from bench.common.net import HOST

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class RawSocket:
    def __init__(self, stream: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stream = stream
        self.writer = writer

    @classmethod
    async def open(cls, port: int, path: str) -> RawSocket:
        stream, writer = await asyncio.open_connection(HOST, port)
        key = base64.b64encode(os.urandom(16))
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key.decode()}\r\n"
            f"Sec-WebSocket-Version: 13\r\nOrigin: http://{HOST}:{port}\r\n\r\n".encode()
        )
        head = (await stream.readuntil(b"\r\n\r\n")).decode("latin-1")
        if not head.startswith("HTTP/1.1 101"):
            writer.close()
            raise ConnectionError(head.split("\r\n", 1)[0])
        accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest()).decode()  # noqa: S324
        if f"sec-websocket-accept: {accept.lower()}" not in head.lower():
            writer.close()
            raise ConnectionError("bad Sec-WebSocket-Accept")
        return cls(stream, writer)

    def _send(self, opcode: int, payload: bytes = b"") -> None:
        # Control frames only (< 126 bytes); the mask is all zeros, which XORs to the payload itself.
        self.writer.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)

    async def next_message(self) -> bytes:
        """The next data message; answers pings; ConnectionError when the server closes."""
        message = b""
        while True:
            first, second = await self.stream.readexactly(2)
            length = second & 0x7F
            if length == 126:
                length = int.from_bytes(await self.stream.readexactly(2))
            elif length == 127:
                length = int.from_bytes(await self.stream.readexactly(8))
            payload = await self.stream.readexactly(length)
            opcode = first & 0x0F
            if opcode == 0x8:
                raise ConnectionError("closed by the server")
            if opcode == 0x9:
                self._send(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            message += payload
            if first & 0x80:
                return message

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            self._send(0x8, (1000).to_bytes(2))
            self.writer.close()
            await asyncio.wait_for(self.writer.wait_closed(), 2)
