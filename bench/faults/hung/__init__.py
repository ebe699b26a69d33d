"""Fault drills "hung-redis" and "hung-postgres": a service that stops answering without going away.

    .venv/bin/python -m bench.faults --scenario hung-redis,hung-postgres

A hung service (SIGSTOP: the kernel still accepts connections and acknowledges what is sent, the
process answers nothing) is worse than a stopped one: nothing is refused, so without client-side
timeouts every request waits as long as the hang lasts. Each drill, all on 127.0.0.1:

1. hung-redis: a throwaway redis-server of its own (not the drill's) is the channel layer of a
   Daphne on the drill's database. hung-postgres: a throwaway PostgreSQL cluster (postgres-down's
   ThrowawayPostgres: initdb as the `postgres` OS user, its own port), migrated, is the database of
   a Daphne on the drill's Redis. Daphne runs with DEBUG off, as in production.
2. --hung-readers readers connect (bench.common's LiveReader, the live client's algorithm). An
   editor logs in to the admin over HTTP and publishes through the composer every --hung-interval
   seconds; a visitor asks for the reader page, the catch-up endpoint and /readyz, each every
   --hung-interval seconds; every request is timed.
3. After --hung-before-seconds the service's processes get SIGSTOP (a cluster's postmaster and all
   its children) for --hung-seconds; a third of the way in a new reader's socket is tried. Then
   SIGCONT - always, also when the drill fails or is interrupted - and the traffic goes on for
   --hung-after-seconds.

Figures, for the requests sent while the service hung (`hung_*`): each kind's statuses and longest
wait, the longest wait of all (`hung_wait_max_s`, the drill's figure), the editor's saves (saved
with the "Live delivery is delayed" note, saved without it, not saved by status); for the whole
run: saves_ok, false_saved (reported saved, not in the database: must be 0), unreported (in the
database although the editor heard otherwise), http_500, no_answer (client gave up after 30 s),
pings and pushes the readers got during and after the hang, sockets closed during it; and, as for
every drill, whether every reader ends with exactly the database's posts (settle: seconds after
the editor's last save).

PASS needs: every reader complete (0 missing, 0 extra), 0 false "saved", 0 HTTP 500, no request
without an answer, no request during the hang waiting longer than --hung-bound, /readyz answering
503 within 2 s while the service hangs, and the right answer to each request during the hang -
hung-redis: every save saved (the note says when the push waits), pages and catch-ups 200;
hung-postgres: 503 with Retry-After for saves, pages and catch-ups (or a save that really went
through just before the stop, reported truthfully).

Modules: scenario.py (the drills, options, figures), traffic.py (the editor and the visitor).
"""

from bench.faults.hung.scenario import POSTGRES, REDIS, RUNS, add_arguments

__all__ = ["POSTGRES", "REDIS", "RUNS", "add_arguments"]
