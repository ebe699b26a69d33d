// Live updates for the reader page (and the embed), loaded as <script type="module">. No
// framework: the server renders every fragment (the same partial as the page), these modules
// only place it.
//
// The database is the source of truth and every event has a per-blog sequence number. The page
// carries the seq it was rendered at; the socket pushes newer events; whenever a seq is skipped,
// the socket reconnects, or the server reports a newer seq (hello, ping), the client asks
// /events/?after=<seq> for what it missed.
//
//   main.js        reads the page's data attributes and wires the rest
//   feed.js        events in seq order; catch-up from the event log, with retries
//   connection.js  the WebSocket: heartbeat, reconnect with jittered backoff, polling fallback
//   stream.js      placing posts: stream, pinned slot, "Important updates", held-back posts
//   older.js       "Load older posts" (htmx) merged with the events that came meanwhile
//   order.js       the server's order of posts
//   times.js       relative times and "Last update"
//   ui.js          new-updates button, title count, pause toggle, announcer, "Reconnecting…"
//   protocol.js    frame types and close codes, generated from live/protocol.py
import { Connection } from "./connection.js";
import { Feed } from "./feed.js";
import { BLOG_ARCHIVED } from "./protocol.js";
import { Stream } from "./stream.js";
import { Times } from "./times.js";
import { Ui } from "./ui.js";

function parse(html) {
  const template = document.createElement("template");
  template.innerHTML = html.trim();
  return template.content.firstElementChild;
}

// A permalink page (data-focus): scrolled to its post, live or not.
function focus(root) {
  const focusId = root.dataset.focus;
  if (!focusId) return;
  const target = document.getElementById(focusId);
  if (target) {
    target.classList.add("post--focus");
    target.scrollIntoView({ block: "start" });
  }
}

function start(root) {
  const ui = new Ui({
    newButton: document.getElementById("new-updates"),
    toggle: document.getElementById("live-toggle"),
    announcer: document.getElementById("live-announcer"),
    connectionNote: document.getElementById("live-connection"),
  });
  const times = new Times(document.getElementById("last-update"));
  const stream = new Stream({
    postsEl: document.getElementById("posts"),
    pinnedEl: document.getElementById("pinned"),
    importantList: document.querySelector("#important-updates ul"),
    ui,
    times,
  });

  function archive(html) {
    if (html && !document.getElementById("archive-notice")) {
      const notice = parse(html);
      if (notice) root.querySelector(".liveblog__header h1")?.after(notice);
    }
    root.dataset.state = "archived";
    document.getElementById("live-bar")?.remove();
    connection.stop();
  }

  function apply(event) {
    if (event.kind === BLOG_ARCHIVED) {
      archive(event.html);
    } else if (event.post_id) {
      stream.place(String(event.post_id), event.html ? parse(event.html) : null);
    }
  }

  const feed = new Feed({
    url: root.dataset.eventsUrl,
    seq: Number(root.dataset.seq) || 0,
    apply,
    settled: () => stream.showCount(),
    answered: () => connection.serverAnswered(),
    gone: () => connection.stop(),
  });
  const connection = new Connection({
    path: root.dataset.wsPath,
    feed,
    ui,
    isLive: () => root.dataset.state === "live",
  });

  // ---- controls ----------------------------------------------------------------------------

  ui.onShowNew(() => stream.showPending());
  stream.older.listen();
  ui.onPause((paused) => {
    stream.paused = paused;
    if (!paused && !stream.readerIsAway()) stream.showPending();
  });
  window.addEventListener("online", () => connection.online());

  times.refresh();
  setInterval(() => times.refresh(), 30000);
  feed.catchUp(); // an event committed between render and socket open is caught here or by hello
  connection.connect();
}

const root = document.querySelector(".liveblog");
if (root) {
  focus(root);
  if (root.dataset.state === "live" && "fetch" in window) start(root);
}
