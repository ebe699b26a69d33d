"""Drill "editors": several editors publish at once while readers resume at random moments.

    .venv/bin/python -m bench.faults --scenario editors

A scenario of bench.faults. Each run:

1. A fresh live blog; --editors-readers readers load its page from Daphne and follow it as
   the live client (static/js/live/) does (bench.common's LiveReader, subclassed in page.py to
   model the page).
2. --editors-count editor *processes* (`python -m bench.faults.editors.worker`) publish
   --editors-posts posts in total, as fast as posts.services allows, against the same database.
   After each new post an editor also edits (--editors-edit-rate), flags or unflags as important
   (--editors-important-rate) or deletes (--editors-delete-rate) one of its own earlier posts
   (mostly recent ones).
3. Meanwhile every reader resumes at random moments (a Poisson process, --editors-resume-rate per
   reader and second): mostly its socket drops (the transport is aborted: close 1006, so the
   reader reconnects after the live client's backoff and catches up from its last applied seq), sometimes
   (--editors-reload-share) it reloads: a fresh page from the server (data-seq, the newest 20 posts
   and the "Load older posts" cursor), then a catch-up and a socket, as the live client starts.
4. When the editors are done, every reader must show exactly the database's visible posts, each in
   its current version (the markup the server renders now), and have applied the blog's last seq.

Why processes, not threads: in production editors save through separate web workers, so their
transactions contend for the blog's row lock from separate processes and their broadcasts reach
Daphne through Redis from separate processes, overtaking each other (which is what makes readers
buffer and catch up). Threads in this process would also share one GIL with the 50 readers' event
loop, so publishing would slow the readers down and vice versa, and the publish rate would measure
the GIL, not the database.

What a reader shows is modelled on the DOM, as the live client changes it (`place()`): an event with markup
replaces the element with the post's id; where there is none, it is left out if the post sorts
below the page's "Load older posts" (that request brings it), held back while the reader is "away"
(scrolled down or paused, --editors-away-rate; "Show new updates" inserts what is held back and not
on the page by then), or inserted. "" removes every element with the id and what is held back. A
reloaded page holds only the newest 20 posts; the rest are behind "Load older posts" (an htmx GET
of `?cursor=<pk>`, the link's data-post; whose posts are appended, except those already on the
page, with the changes events made while it was on its way). Editors here never pin, so the pinned
slot is not modelled. So:

- missed = a visible post that should be on the page but is not, or shows an outdated version
  (posts behind a reloaded page's "Load older posts" count only once a reader clicks through);
- duplicated = an event seq applied twice by one page, or a post that would be on the page twice:
  inserted while one with its id is present (by an event), or found on the page already by "Show
  new updates" or by "Load older posts". the live client now skips or drops such copies, but one counted
  here means place() put a post where the button or the link brings it again (the bugs these
  counters found). After settling, --editors-older-clicks reloaded readers per run click "Load
  older posts" to the end and are then checked in full; for the others the drill counts the posts
  that such clicks would duplicate (older_dup_risk: posts that live events put below the reloaded
  page's cursor).

One line per run, then one aggregated Outcome. The whole scenario is bounded by `timeout(args)`
(--editors-timeout, default 90 s per run + 120 s): runs stop early when the next would not fit,
and the aggregate says how many ran.

Modules: page.py (the page and its reader), check.py (what the page should show), crowd.py (the
readers of a run), processes.py and worker.py (the editor processes), scenario.py (options, runs, figures).
"""

from bench.faults.editors.scenario import NAME, add_arguments, run, timeout

__all__ = ["NAME", "add_arguments", "run", "timeout"]
