"""Django's PostgreSQL backend, with a watchdog on every round trip to the server.

A hung PostgreSQL (processes stopped, a frozen VM) still has a kernel that accepts and acknowledges
TCP: connect_timeout bounds only new connections; statement_timeout is enforced by the server,
which is frozen; keepalives and tcp_user_timeout never fire. A query on an open (pooled)
connection would wait for ever, and so would the pool's health check on checkout.

So every wait for the server (query, COMMIT, the pool's check, a rollback) is watched: once the
server has sent nothing for `answer_timeout` seconds, the process asks it for a *new* connection.
A server that answers that is slow, not hung (a long lock wait): the wait goes on, until its own
statement_timeout answers. One that does not answer within PROBE_SECONDS is hung: the connection is
closed and the query raises OperationalError, which the 503 middleware answers (liveblog/middleware.py).
A hung server thus costs a request about answer_timeout + PROBE_SECONDS; for answer_timeout after
that verdict, further waits give up after HUNG_GRACE_SECONDS of silence. `limit` caps any wait in
case only our backend is stuck while the server still accepts connections.

psycopg's own wait loop wakes every 0.1 s and tells the generator it drives "nothing ready"; the
watchdog sits between the two, so it works with psycopg's C and Python wait functions alike.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Generator
from time import monotonic
from typing import Any

import psycopg
from django.db.backends.postgresql import base

logger = logging.getLogger(__name__)

# How long the probe connection may take: libpq's smallest connect_timeout.
PROBE_SECONDS = 2
# Right after a probe found the server hung, a wait gives up after this much silence without asking
# again. Otherwise the pool's check on checkout, which tries one idle connection after the other
# past its own deadline, would cost answer_timeout per idle connection (measured: 10 s a request).
HUNG_GRACE_SECONDS = 0.25


class _Verdicts:
    """The last probe's result per server, shared by the process's connections.

    A hung server makes every pooled connection ask at once; one probe answers them all. A "hung"
    verdict holds for `fresh_for` seconds, or until any connection hears from the server again.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, tuple[float, bool]] = {}

    def server_answers(self, server: str, conninfo: str, fresh_for: float) -> bool:
        with self._lock:
            at, answered = self._last.get(server, (0.0, True))
            if monotonic() - at < fresh_for:
                return answered
            answered = _probe(conninfo)
            self._last[server] = (monotonic(), answered)
            return answered

    def recently_hung(self, server: str, fresh_for: float) -> bool:
        at, answered = self._last.get(server, (0.0, True))
        return not answered and monotonic() - at < fresh_for

    def heard_from(self, server: str) -> None:
        if server in self._last:
            with self._lock:
                self._last.pop(server, None)


_verdicts = _Verdicts()


def _probe(conninfo: str) -> bool:
    """Whether the server answers a new connection within PROBE_SECONDS (an error it sends counts)."""
    try:
        psycopg.Connection.connect(conninfo, connect_timeout=PROBE_SECONDS, autocommit=True).close()
    except psycopg.errors.ConnectionTimeout:
        return False
    except psycopg.OperationalError as error:
        # "too many clients", a refused login: the server spoke. Refused or unreachable: it is gone,
        # and our connection with it.
        return "FATAL" in str(error)
    return True


class WatchedConnection(psycopg.Connection[Any]):
    """A psycopg connection whose waits for the server give up when the server is hung."""

    answer_timeout = 3.0
    limit = 33.0

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        # psycopg passes its own timeout only where it has one (notifications): keep that.
        return super().wait(self._watched(gen) if timeout is None else gen, interval, timeout)

    def _watched(self, gen: Generator[Any, Any, Any]) -> Generator[Any, Any, Any]:
        server = self._server()
        suspect = _verdicts.recently_hung(server, self.answer_timeout)
        patience = HUNG_GRACE_SECONDS if suspect else self.answer_timeout
        started = heard = checked = monotonic()
        try:
            state = next(gen)
            while True:
                ready = yield state
                now = monotonic()
                if ready:
                    heard = now
                    if suspect:  # it answers again: no more short patience for anyone
                        _verdicts.heard_from(server)
                        suspect, patience = False, self.answer_timeout
                elif now - max(heard, checked) >= patience:
                    self._check_server(server, now - heard, now - started)
                    checked = monotonic()
                state = gen.send(ready)
        except StopIteration as done:
            return done.value

    def _check_server(self, server: str, silent: float, waited: float) -> None:
        if waited < self.limit and _verdicts.server_answers(
            server, self._probe_conninfo(), fresh_for=self.answer_timeout
        ):
            return
        logger.warning(
            "PostgreSQL %s sent nothing for %.1f s and does not answer a new connection either: "
            "closing this connection",
            server,
            silent,
        )
        self.pgconn.finish()  # the pool discards a closed connection
        raise psycopg.OperationalError(
            f"the database did not answer for {silent:.1f} s (hung?); connection closed"
        )

    def _server(self) -> str:
        return f"{self.info.host}:{self.info.port}"

    def _probe_conninfo(self) -> str:
        # The connection's own parameters (password included), read from libpq without any I/O.
        params = {
            option.keyword.decode(): option.val.decode()
            for option in self.pgconn.info
            if option.val is not None and option.keyword != b"connect_timeout"
        }
        return psycopg.conninfo.make_conninfo(**params)


class DatabaseWrapper(base.DatabaseWrapper):
    """Django's wrapper with WatchedConnection, with and without the pool.

    settings_dict["WATCHDOG"] (liveblog/database.py): {"answer_timeout": s, "limit": s}.
    """

    def __init__(self, settings_dict: dict[str, Any], alias: str = "default") -> None:
        watchdog = settings_dict.get("WATCHDOG") or {}
        self.psycopg_connection_class = type(
            "WatchedConnection", (WatchedConnection,), {k: float(v) for k, v in watchdog.items()}
        )
        pool = settings_dict.get("OPTIONS", {}).get("pool")
        if pool:
            # A copy: the settings stay as configured (and printable); the pool makes ours.
            options = {**settings_dict["OPTIONS"], "pool": {**(pool if isinstance(pool, dict) else {})}}
            options["pool"]["connection_class"] = self.psycopg_connection_class
            settings_dict = {**settings_dict, "OPTIONS": options}
        super().__init__(settings_dict, alias)

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        connection = super().get_new_connection(conn_params)
        if not isinstance(connection, WatchedConnection):
            # Without the pool Django calls psycopg.connect(), which has no class argument; the
            # subclass adds behaviour only, no state, so the object can simply take it on.
            connection.__class__ = self.psycopg_connection_class
        return connection
