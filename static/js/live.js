// Live updates for the reader page. No framework: the server renders every fragment (the same
// partial as the page), this script only places it.
//
// The database is the source of truth and every event has a per-blog sequence number. The page
// carries the seq it was rendered at; the socket pushes newer events; whenever a seq is skipped,
// the socket reconnects, or the server reports a newer seq (hello, ping), the script asks
// /events/?after=<seq> for what it missed. Applying an event twice is harmless (each carries the
// post's current markup), so overlaps between push and catch-up cost nothing.
//
// After a server restart every reader comes back at once: reconnects back off with full jitter,
// and a reconnect costs one catch-up. Either the hello asks for it, or, while the socket is still
// backing off, a poll gets the answer first and moves the reconnect up (its hello then finds
// nothing missing). bench/reader.py mirrors this algorithm; keep the two in step.
(function () {
  "use strict";

  const root = document.querySelector(".liveblog");
  if (!root) return;

  const focusId = root.dataset.focus;
  if (focusId) {
    const target = document.getElementById(focusId);
    if (target) {
      target.classList.add("post--focus");
      target.scrollIntoView({ block: "start" });
    }
  }
  if (root.dataset.state !== "live" || !("fetch" in window)) return;

  const HEARTBEAT_TIMEOUT = 60000; // the server pings every 25 s
  const BACKOFF_BASE = 1000;
  const BACKOFF_CAP = 30000;
  const POLL_VISIBLE = 10000;
  const POLL_HIDDEN = 30000;
  const FAILURES_BEFORE_POLLING = 2;

  const postsEl = document.getElementById("posts");
  const pinnedEl = document.getElementById("pinned");
  const importantList = document.querySelector("#important-updates ul");
  const newButton = document.getElementById("new-updates");
  const toggle = document.getElementById("live-toggle");
  const announcer = document.getElementById("live-announcer");
  const connectionNote = document.getElementById("live-connection");
  const lastUpdate = document.getElementById("last-update");
  const baseTitle = document.title;

  let lastSeq = Number(root.dataset.seq) || 0;
  let pendingSeq = 0; // the newest seq the server has announced
  let catchUpFailures = 0;
  let paused = false;
  let socket = null;
  let attempts = 0;
  let failuresBeforeOpen = 0;
  let heartbeatTimer = null;
  let reconnectTimer = null;
  let reconnectAt = 0; // when reconnectTimer fires
  let throttled = false; // closed with 4429/4008: keep the long backoff
  let pollTimer = null;
  let retryTimer = null; // one retry of a failed catch-up at a time
  let catchingUp = null;
  let stopped = false;
  const buffered = new Map(); // seq -> event that arrived ahead of a gap
  const pending = new Map(); // post id -> markup of new posts held back while the reader is away

  // ---- placing fragments -------------------------------------------------------------------

  function parse(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  function published(article) {
    return Date.parse(article.dataset.published || "") || 0;
  }

  // The server's order, newest first: published_at, then id (posts.models.Post.Meta.ordering).
  // data-published has microseconds, which Date.parse drops: they count too, so that the page
  // agrees with the server about which posts lie below "Load older posts".
  function sortKey(published, id) {
    const fraction = /\.(\d+)/.exec(published || "");
    const micros = fraction ? Number((fraction[1] + "000000").slice(3, 6)) : 0;
    return [(Date.parse(published || "") || 0) * 1000 + micros, Number(id) || 0];
  }

  function keyOf(article) {
    return sortKey(article.dataset.published, article.id.replace(/^post-/, ""));
  }

  function sortsAfter(a, b) {
    return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
  }

  // `container`: #posts, or the fragment "Load older posts" brings (see mergeOlder).
  function children(container, selector) {
    return [...container.children].filter((child) => child.matches(selector));
  }

  function insertSorted(article, container = postsEl) {
    // Newest first; new posts almost always go to the top.
    const key = keyOf(article);
    const next = children(container, "article.post").find((other) => sortsAfter(keyOf(other), key));
    const older = children(container, ".load-older")[0];
    if (next) next.before(article);
    else if (older) older.before(article);
    else container.append(article);
  }

  // "Load older posts" brings the posts after the one named on its link (data-post and its
  // data-published), as the server renders them when it answers. The embed's link to the full
  // page names none: there nothing is loaded below.
  function belowOlder(article, container = postsEl) {
    const link = children(container, ".load-older")[0];
    return !!link?.dataset.post && sortsAfter(keyOf(article), sortKey(link.dataset.published, link.dataset.post));
  }

  function readerIsAway() {
    return paused || window.scrollY > postsEl.offsetTop + 40;
  }

  function syncImportant(id, article) {
    const item = importantList.querySelector(`li[data-post="${id}"]`);
    if (!article || !article.hasAttribute("data-important")) {
      if (item) item.remove();
      if (!importantList.querySelector("li[data-post]")) {
        importantList.querySelector("li.empty")?.removeAttribute("hidden");
      }
      return false;
    }
    const headline = article.querySelector(".post__headline")?.textContent.trim() || "";
    const li = item || document.createElement("li");
    li.dataset.post = id;
    li.dataset.published = article.dataset.published;
    li.replaceChildren(Object.assign(document.createElement("a"), { href: `#post-${id}`, textContent: headline }));
    if (!item) {
      // In the server's order for this list, the stream's (the server renders each item's
      // data-published for this): an older post flagged now goes below the newer ones.
      const key = keyOf(article);
      const next = [...importantList.querySelectorAll("li[data-post]")].find(
        (other) => sortsAfter(sortKey(other.dataset.published, other.dataset.post), key),
      );
      importantList.insertBefore(li, next || null);
    }
    importantList.querySelector("li.empty")?.setAttribute("hidden", "");
    return !item;
  }

  function announce(text) {
    if (!announcer) return;
    announcer.textContent = "";
    // A fresh text node after a tick makes screen readers announce repeated messages too.
    setTimeout(() => { announcer.textContent = text; }, 50);
  }

  function place(id, article) {
    const current = document.getElementById(`post-${id}`);
    if (!article) {
      // Every copy: the page should hold one, but a deleted post must never stay behind.
      for (let copy = current; copy; copy = document.getElementById(`post-${id}`)) copy.remove();
      pending.delete(id);
      loadingOlder?.set(id, null); // the older posts on their way may still have it
      syncImportant(id, null);
      updateVisibility();
      return;
    }
    const becameImportant = syncImportant(id, article);
    if (becameImportant) {
      const headline = article.querySelector(".post__headline")?.textContent.trim();
      announce(`${announcer?.dataset.important || ""} ${headline}`);
    }
    // Placed now, or held back again below: a copy held back earlier is outdated either way
    // ("Show new updates" would insert it beside this one).
    pending.delete(id);
    let shown = true;
    if (article.hasAttribute("data-pinned")) {
      current?.remove();
      pinnedEl.replaceChildren(article);
    } else if (current && current.parentElement !== pinnedEl) {
      current.replaceWith(article); // edits apply in place, silently
    } else if (belowOlder(article)) {
      // An older post than the page shows (edited, flagged, unpinned, restored): "Load older
      // posts" brings it in its current version. Inserted here, it would then be there twice.
      current?.remove(); // leaves the pinned slot
      loadingOlder?.set(id, article); // newer than what the request on its way may bring
      shown = false;
    } else if (current) {
      current.remove(); // unpinned: back into the stream
      insertSorted(article);
    } else if (readerIsAway()) {
      pending.set(id, article); // never push content under a reader who scrolled or paused
    } else {
      insertSorted(article);
      highlight(article);
    }
    updateVisibility();
    // Only forward: a restored or backdated post comes in at its old time, below newer ones.
    if (shown && lastUpdate && !current && published(article) && keyOf(article)[0] > lastUpdateMicros()) {
      lastUpdate.dateTime = article.querySelector("time")?.getAttribute("datetime") || "";
      lastUpdate.dataset.published = article.dataset.published;
      refreshRelativeTimes();
    }
    relativeTime(article);
  }

  // ---- "Load older posts" (htmx swaps the server's next page in for the link) ---------------

  // While older posts are on their way: post id -> the newest markup of each post below the link
  // that an event changed (null: deleted) since the request left. The answer may predate those
  // events; mergeOlder applies them to it.
  let loadingOlder = null;

  function isOlderLink(element) {
    return element instanceof Element && element.matches(".load-older") && element.parentElement === postsEl;
  }

  function mergeOlder(html, changes) {
    const template = document.createElement("template");
    template.innerHTML = html;
    const fragment = template.content;
    for (const incoming of children(fragment, "article.post")) {
      const id = incoming.id.replace(/^post-/, "");
      const change = changes.get(id);
      changes.delete(id);
      // Already on the page (pinned since, or placed by an event): that copy is where it belongs
      // and as new as the events applied; this one may be older. Drop it, keep the page's.
      if (document.getElementById(incoming.id) || change === null) incoming.remove();
      else if (change) incoming.replaceWith(change);
    }
    // Changed posts the answer lacks (unpinned or restored after it was rendered) that belong
    // above its own "Load older posts": their place is in it.
    for (const [id, article] of changes) {
      if (article && !document.getElementById(`post-${id}`) && !belowOlder(article, fragment)) {
        insertSorted(article, fragment);
      }
    }
    return template.innerHTML;
  }

  // ---- relative times ("vor 5 Minuten") next to the absolute ones, for the last few hours ----

  const RELATIVE_FOR = 6 * 3600 * 1000;
  const relative = "RelativeTimeFormat" in Intl
    ? new Intl.RelativeTimeFormat(document.documentElement.lang || undefined, { numeric: "auto" })
    : null;

  function ago(when) {
    const seconds = Math.round((when - Date.now()) / 1000);
    if (Math.abs(seconds) < 60) return relative.format(0, "minute");
    if (Math.abs(seconds) < 3600) return relative.format(Math.round(seconds / 60), "minute");
    return relative.format(Math.round(seconds / 3600), "hour");
  }

  function relativeTime(article) {
    if (!relative) return;
    const when = published(article);
    const time = article.querySelector("header time");
    if (!time || !when) return;
    let label = article.querySelector(".post__ago");
    if (Date.now() - when > RELATIVE_FOR) { label?.remove(); return; }
    if (!label) {
      label = Object.assign(document.createElement("span"), { className: "post__ago" });
      time.after(" ", label);
    }
    label.textContent = `(${ago(when)})`;
  }

  // "Last update" as data-published (the server renders it; place() sets it) or else its datetime.
  function lastUpdateStamp() {
    // datetime attributes end in +0100 (valid HTML); Date.parse wants +01:00.
    return lastUpdate?.dataset.published
      || (lastUpdate?.getAttribute("datetime") || "").replace(/([+-]\d\d)(\d\d)$/, "$1:$2");
  }

  function lastUpdateMicros() {
    return sortKey(lastUpdateStamp(), 0)[0];
  }

  function refreshRelativeTimes() {
    if (!relative) return;
    document.querySelectorAll("article.post").forEach(relativeTime);
    const last = Date.parse(lastUpdateStamp());
    if (lastUpdate && last) {
      lastUpdate.title ||= lastUpdate.textContent;
      lastUpdate.textContent = ago(last);
    }
  }

  function highlight(article) {
    article.classList.add("post--new");
    setTimeout(() => article.classList.remove("post--new"), 4000);
  }

  function updateVisibility() {
    pinnedEl.hidden = !pinnedEl.querySelector("article.post");
    // The server's "No updates yet." goes away with the first live post (and back with the last).
    const empty = postsEl.querySelector(":scope > p.empty");
    if (empty) empty.hidden = !!postsEl.querySelector(":scope > article.post");
  }

  function updatePendingUi() {
    const count = pending.size;
    document.title = count ? `(${count}) ${baseTitle}` : baseTitle;
    if (!newButton) return;
    newButton.hidden = count === 0;
    newButton.textContent = count === 1 ? newButton.dataset.one : (newButton.dataset.many || "").replace("%(n)s", count);
  }

  function showPending() {
    const held = [...pending];
    pending.clear();
    for (const [id, article] of held) {
      // On the page since (placed by an event): that copy is newer.
      if (document.getElementById(`post-${id}`)) continue;
      insertSorted(article);
      highlight(article);
    }
    updateVisibility();
    updatePendingUi();
    postsEl.scrollIntoView({ block: "start" });
  }

  function archive(html) {
    if (html && !document.getElementById("archive-notice")) {
      const notice = parse(html);
      if (notice) root.querySelector(".liveblog__header h1")?.after(notice);
    }
    root.dataset.state = "archived";
    document.getElementById("live-bar")?.remove();
    stop();
  }

  function apply(event) {
    if (event.kind === "blog.archived") {
      archive(event.html);
    } else if (event.post_id) {
      place(String(event.post_id), event.html ? parse(event.html) : null);
    }
  }

  // ---- ordering by seq ---------------------------------------------------------------------

  function receive(event) {
    if (event.seq <= lastSeq) return; // already applied
    if (event.seq === lastSeq + 1) {
      lastSeq = event.seq;
      apply(event);
      drainBuffer();
      updatePendingUi();
    } else {
      // Pushes from concurrent editors can overtake each other: give the missing one a moment
      // to arrive by push before asking the server (every reader sees the same gap at once).
      buffered.set(event.seq, event);
      catchUpSoon();
    }
  }

  let soonTimer = null;
  function catchUpSoon(maxDelay = 2000) {
    if (soonTimer) return;
    soonTimer = setTimeout(() => {
      soonTimer = null;
      if (missingSomething()) catchUp();
    }, 300 + Math.random() * maxDelay);
  }

  function drainBuffer() {
    while (buffered.has(lastSeq + 1)) {
      const next = buffered.get(lastSeq + 1);
      buffered.delete(lastSeq + 1);
      lastSeq = next.seq;
      apply(next);
    }
    for (const seq of buffered.keys()) if (seq <= lastSeq) buffered.delete(seq);
  }

  function missingSomething() {
    return buffered.size > 0 || pendingSeq > lastSeq;
  }

  function catchUp() {
    if (catchingUp) return catchingUp.catch(() => {});
    catchingUp = (async () => {
      try {
        for (;;) {
          const response = await fetch(`${root.dataset.eventsUrl}?after=${lastSeq}`, {
            headers: { Accept: "application/json" }, cache: "no-store",
          });
          if (response.status === 404) { stop(); return; }
          if (!response.ok) throw new Error(`catch-up answered ${response.status}`);
          const data = await response.json();
          for (const event of data.events) {
            if (event.seq > lastSeq) {
              lastSeq = event.seq;
              apply(event);
            }
          }
          drainBuffer();
          updatePendingUi();
          catchUpFailures = 0;
          // A retry still pending would ask again for what this answer just brought.
          clearTimeout(retryTimer);
          retryTimer = null;
          serverAnswered();
          if (stopped || !data.events.length || lastSeq >= data.last_seq) break;
        }
      } catch (error) {
        // A busy server or a network blip: try again later, backing off with jitter.
        catchUpFailures += 1;
        const delay = Math.random() * Math.min(BACKOFF_CAP, BACKOFF_BASE * 2 ** catchUpFailures);
        clearTimeout(retryTimer);
        retryTimer = setTimeout(() => { retryTimer = null; if (!stopped) catchUp(); }, delay);
        throw error;
      } finally {
        catchingUp = null;
      }
      // Announced while this catch-up was under way and not in its answer, or a push still
      // waiting behind a gap: ask once more, a moment later. (A reconnect's hello never is: the
      // answer was read after it.)
      if (!stopped && missingSomething()) catchUpSoon();
    })();
    return catchingUp.catch(() => {});
  }

  // ---- the socket --------------------------------------------------------------------------

  function connect() {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    if (stopped || socket) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    // In service from its first frame (the hello), not from "open": a server that cannot take
    // the socket now accepts it only to close it with a code (4013, 4429), and resetting the
    // backoff for that would make every reader retry within a second, all together.
    let served = false;
    try {
      socket = new WebSocket(`${scheme}://${location.host}${root.dataset.wsPath}`);
    } catch (error) {
      scheduleReconnect(false);
      return;
    }
    socket.addEventListener("open", armHeartbeat);
    socket.addEventListener("message", (message) => {
      armHeartbeat();
      if (!served) {
        served = true;
        attempts = 0;
        failuresBeforeOpen = 0;
        throttled = false;
        stopPolling();
        if (connectionNote) connectionNote.hidden = true;
      }
      let frame;
      try { frame = JSON.parse(message.data); } catch { return; }
      if (frame.type === "event") receive(frame);
      else if ((frame.type === "hello" || frame.type === "ping") && frame.last_seq > lastSeq) {
        // Every reader hears the same ping at once: spread the catch-ups over a moment.
        pendingSeq = Math.max(pendingSeq, frame.last_seq);
        catchUpSoon();
      }
    });
    socket.addEventListener("close", (event) => {
      clearTimeout(heartbeatTimer);
      socket = null;
      if (stopped) return;
      if (event.code === 4404) { stop(); return; } // the blog is gone for readers
      if (event.code === 1000) {
        // The server closes cleanly only when the blog was archived: one last catch-up applies
        // the archive notice even if its frame waited behind a gap; then stay quiet.
        catchUp().then(() => { if (root.dataset.state !== "live") stop(); else scheduleReconnect(served); });
        return;
      }
      if (event.code === 4429 || event.code === 4008) {
        // Too many sockets from this address (or a misbehaving client): poll, and try again much
        // later, so that readers over the cap do not hammer the server.
        startPolling();
        attempts = Math.max(attempts, 8);
        throttled = true;
      }
      scheduleReconnect(served);
    });
  }

  function armHeartbeat() {
    clearTimeout(heartbeatTimer);
    // Silence past the heartbeat means a dead connection (sleep, network change): replace it.
    heartbeatTimer = setTimeout(() => socket?.close(), HEARTBEAT_TIMEOUT);
  }

  function scheduleReconnect(wasServed) {
    if (stopped) return;
    if (!wasServed) failuresBeforeOpen += 1;
    if (connectionNote) connectionNote.hidden = false;
    if (failuresBeforeOpen >= FAILURES_BEFORE_POLLING) startPolling();
    // Exponential backoff with full jitter, so a restarted server is not hit by every reader at once.
    const cap = attempts >= 8 ? BACKOFF_CAP * 10 : BACKOFF_CAP;
    const delay = Math.random() * Math.min(cap, BACKOFF_BASE * 2 ** attempts);
    attempts += 1;
    clearTimeout(reconnectTimer);
    // The server's hello names its newest seq; the catch-up follows from that (or from polling).
    reconnectTimer = setTimeout(connect, delay);
    reconnectAt = Date.now() + delay;
  }

  function serverAnswered() {
    // A catch-up answered while no socket is in service: the server is back, so reconnect within
    // a moment instead of up to BACKOFF_CAP later, polling all the while (each reader's poll or
    // retry comes at its own jittered time, so the herd stays spread). Its hello then finds
    // nothing missing. Polling resumes if that attempt fails too. Not when the server asked for
    // the long backoff (4429/4008): there polling is the way to stay current.
    if (stopped || throttled || (!pollTimer && !reconnectTimer)) return;
    stopPolling();
    if (!reconnectTimer) return; // a socket is connecting already
    const delay = Math.random() * BACKOFF_BASE;
    if (Date.now() + delay >= reconnectAt) return;
    clearTimeout(reconnectTimer);
    reconnectTimer = setTimeout(connect, delay);
    reconnectAt = Date.now() + delay;
  }

  function pollDelay() {
    // Jittered per tick: readers that lost their sockets together do not poll together.
    return (document.hidden ? POLL_HIDDEN : POLL_VISIBLE) * (0.5 + Math.random());
  }

  function startPolling() {
    if (pollTimer) return;
    const tick = () => {
      catchUp();
      pollTimer = setTimeout(tick, pollDelay());
    };
    pollTimer = setTimeout(tick, pollDelay());
  }

  function stopPolling() {
    clearTimeout(pollTimer);
    pollTimer = null;
  }

  function stop() {
    stopped = true;
    stopPolling();
    clearTimeout(reconnectTimer);
    clearTimeout(retryTimer);
    clearTimeout(heartbeatTimer);
    if (socket) socket.close(1000);
    socket = null;
  }

  // ---- controls ----------------------------------------------------------------------------

  newButton?.addEventListener("click", showPending);
  document.addEventListener("htmx:beforeRequest", (event) => {
    if (isOlderLink(event.detail.target)) loadingOlder ??= new Map();
  });
  document.addEventListener("htmx:beforeSwap", (event) => {
    if (!isOlderLink(event.detail.target)) return;
    const changes = loadingOlder || new Map();
    loadingOlder = null;
    if (event.detail.shouldSwap) event.detail.serverResponse = mergeOlder(event.detail.serverResponse, changes);
  });
  if (toggle) {
    toggle.hidden = false;
    toggle.addEventListener("click", () => {
      paused = !paused;
      toggle.setAttribute("aria-pressed", String(paused));
      toggle.textContent = paused ? toggle.dataset.labelResume : toggle.dataset.labelPause;
      if (!paused && !readerIsAway()) showPending();
    });
  }
  window.addEventListener("online", () => { if (!socket) connect(); catchUp(); });

  refreshRelativeTimes();
  setInterval(refreshRelativeTimes, 30000);
  catchUp(); // an event committed between render and socket open is caught here or by hello
  connect();
})();
