"""Fault drills for the live path: readers must end with exactly the database's posts.

Every scenario starts its own Daphne (and a throwaway Redis) on 127.0.0.1, creates a fresh live
blog in a dedicated PostgreSQL database (default `liveblog_faults`, created and migrated here),
connects readers that follow the live client's algorithm (static/js/live/; bench.common's
LiveReader), injects one fault, and checks every reader's final set of shown posts against the
blog's visible posts in the DATABASE (missing = in the DB but not shown, extra = shown but not in
the DB).

    .venv/bin/python -m bench.faults --scenario all
    .venv/bin/python -m bench.faults --smoke     # every scenario, tiny (what CI runs)

Scenarios, one module each (their docstrings say what they do and measure):
- redis-outage, redis-wipe: redis_faults.py;
- burst: burst.py;
- daphne-kill: daphne_kill.py;
- archive: archive.py;
- postgres-down: postgres_down/ (a throwaway PostgreSQL cluster; editors post over HTTP);
- editors: editors/ (editor processes publishing while readers drop and reload at random);
- hung-redis, hung-postgres: hung/ (Redis or a throwaway PostgreSQL stopped with SIGSTOP: hung, not
  refusing; the longest any request waited).

The rest: __main__.py (the command line, the scenario list, the run), drill.py (Redis, Daphne,
readers and checks shared by the scenarios), outcome.py (figures line, table), publishing.py
(posts through posts.services in this process), sampler.py (database connections).

After the fault each scenario waits up to --settle-seconds for all readers to be complete. If they
are not, it opens one fresh "probe" socket (a new connection makes the hub read the blog's
last_seq from the database, see live/consumers.py) and waits again, to show what (if anything)
recovers them (since commit 7f7609b the heartbeat itself reads last_seq from the database, so the
probe should no longer be needed). Daphne gets the hub's heartbeat through the app's setting
LIVEBLOG_HEARTBEAT_SECONDS (--heartbeat, 5 s here; the app's default is 25 s); the redis-wipe
scenario's Daphne also gets LIVEBLOG_GROUP_REFRESH_SECONDS (--group-refresh, 10 s; app default 60 s),
the other scenarios keep the app's default.

While a scenario runs, a sampler counts the connections to the drill's database in
pg_stat_activity every 0.25 s (db_conns_peak; `server` = all databases of the shared server).

Everything stays on 127.0.0.x (readers use source addresses 127.0.0.2, 127.0.0.3, ... so that at
most --per-address sockets come from one address: the server caps sockets per address at 20).
Every wait is bounded; every process started here is stopped by its PID at the end.
"""
