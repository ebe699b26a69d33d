"""Fault drill "postgres-down": PostgreSQL stopped under editors and readers.

    .venv/bin/python -m bench.faults --scenario postgres-down

What it does, all on 127.0.0.1 and in a throwaway PostgreSQL cluster (never the shared server):

1. initdb a cluster in a temporary directory (as the `postgres` OS user: initdb and postgres refuse
   root), start it on a free port (trust auth, fsync off), create `liveblog`, migrate, and create
   an editor and a live blog. Daphne runs with DEBUG off, as in production: it serves the static
   files the drill collected (Drill.static_root).
2. Start Daphne against it (the drill's environment with DATABASE_URL replaced) and connect
   --pg-readers readers (bench.common's LiveReader, the live client's algorithm).
3. An editor logs in to the admin over HTTP (CSRF, session cookie; requests carry
   X-Forwarded-Proto: https as behind the production proxy) and publishes every --pg-edit-interval
   seconds, through the composer as its htmx form does, and every third post through the admin's
   add form: for --pg-before-seconds, then while PostgreSQL is down for --pg-down-seconds
   (`pg_ctl stop -m fast`, or with --pg-mode hang SIGSTOP of every server process, a server that
   accepts connections and answers nothing), then after it is back until saves have worked for
   --pg-after-seconds.
4. During the outage it also asks once (after a third of it) for the reader page, the catch-up
   endpoint and a new socket, and watches the readers' open sockets.

Figures: saves_ok (reported saved / attempts) against the posts really in the database:
false_saved (reported saved, not in the DB: must be 0) and unreported (in the DB although the
editor got an error: a commit that went through just before the failure); the editor's answers
during the outage by status (and their slowest time), any 500s, the probes, readers' sockets open
at the end of the outage and closed during it, pings they got meanwhile, recover (first save that
works after the restart), and, as for every drill, whether every reader ends with exactly the
database's posts (settle = seconds from the restart until then).

Every wait is bounded; Daphne and the cluster are stopped by PID (pg_ctl uses the cluster's pid
file) and the temporary directory is removed at the end.

Modules: cluster.py (the throwaway cluster and the app in it), editor.py (the editor over HTTP,
the probes while the database is down), scenario.py (the drill, its options and figures).
"""

from bench.faults.postgres_down.scenario import NAME, add_arguments, run

__all__ = ["NAME", "add_arguments", "run"]
