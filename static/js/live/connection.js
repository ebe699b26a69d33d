// The socket: connect, heartbeat, reconnect with backoff, and polling the event log while the
// socket is out of service.
//
// After a server restart every reader comes back at once: reconnects back off with full jitter,
// and a reconnect costs one catch-up. Either the hello asks for it, or, while the socket is still
// backing off, a poll gets the answer first and moves the reconnect up (its hello then finds
// nothing missing). bench/common/reader.py mirrors this algorithm; keep the two in step.
import { BACKOFF_BASE, BACKOFF_CAP, jittered } from "./feed.js";
import { Close, Frame } from "./protocol.js";

const HEARTBEAT_TIMEOUT = 60000; // the server pings every 25 s
const POLL_VISIBLE = 10000;
const POLL_HIDDEN = 30000;
const FAILURES_BEFORE_POLLING = 2;

export class Connection {
  // path: the socket's path on this host; feed: feed.js's Feed; ui: for "Reconnecting…";
  // isLive(): whether the page still shows a live blog (an archive event makes it not).
  constructor({ path, feed, ui, isLive }) {
    this.path = path;
    this.feed = feed;
    this.ui = ui;
    this.isLive = isLive;
    this.socket = null;
    this.attempts = 0;
    this.failuresBeforeOpen = 0;
    this.heartbeatTimer = null;
    this.reconnectTimer = null;
    this.reconnectAt = 0; // when reconnectTimer fires
    this.throttled = false; // closed with TOO_MANY_SOCKETS/POLICY_VIOLATION: keep the long backoff
    this.pollTimer = null;
  }

  // One flag for both halves: the feed stops retrying when the connection stops.
  get stopped() {
    return this.feed.stopped;
  }

  connect() {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    if (this.stopped || this.socket) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    // In service from its first frame (the hello), not from "open": a server that cannot take
    // the socket now accepts it only to close it with a code (TRY_AGAIN_LATER, TOO_MANY_SOCKETS),
    // and resetting the backoff for that would make every reader retry within a second, all
    // together.
    let served = false;
    let socket;
    try {
      socket = this.socket = new WebSocket(`${scheme}://${location.host}${this.path}`);
    } catch (error) {
      this.scheduleReconnect(false);
      return;
    }
    socket.addEventListener("open", () => this.armHeartbeat());
    socket.addEventListener("message", (message) => {
      this.armHeartbeat();
      if (!served) {
        served = true;
        this.attempts = 0;
        this.failuresBeforeOpen = 0;
        this.throttled = false;
        this.stopPolling();
        this.ui.reconnecting(false);
      }
      let frame;
      try { frame = JSON.parse(message.data); } catch { return; }
      if (frame.type === Frame.EVENT) this.feed.receive(frame);
      else if (frame.type === Frame.HELLO || frame.type === Frame.PING) this.feed.announced(frame.last_seq);
    });
    socket.addEventListener("close", (event) => {
      clearTimeout(this.heartbeatTimer);
      this.socket = null;
      if (this.stopped) return;
      if (event.code === Close.NOT_FOUND) { this.stop(); return; } // the blog is gone for readers
      if (event.code === Close.NORMAL) {
        // The server closes cleanly only when the blog was archived: one last catch-up applies
        // the archive notice even if its frame waited behind a gap; then stay quiet.
        this.feed.catchUp().then(() => { if (!this.isLive()) this.stop(); else this.scheduleReconnect(served); });
        return;
      }
      if (event.code === Close.TOO_MANY_SOCKETS || event.code === Close.POLICY_VIOLATION) {
        // Too many sockets from this address (or a misbehaving client): poll, and try again much
        // later, so that readers over the cap do not hammer the server.
        this.startPolling();
        this.attempts = Math.max(this.attempts, 8);
        this.throttled = true;
      }
      this.scheduleReconnect(served);
    });
  }

  // Back online (the browser says so): a socket if there is none, and what was missed meanwhile.
  online() {
    if (!this.socket) this.connect();
    this.feed.catchUp();
  }

  armHeartbeat() {
    clearTimeout(this.heartbeatTimer);
    // Silence past the heartbeat means a dead connection (sleep, network change): replace it.
    this.heartbeatTimer = setTimeout(() => this.socket?.close(), HEARTBEAT_TIMEOUT);
  }

  scheduleReconnect(wasServed) {
    if (this.stopped) return;
    if (!wasServed) this.failuresBeforeOpen += 1;
    this.ui.reconnecting(true);
    if (this.failuresBeforeOpen >= FAILURES_BEFORE_POLLING) this.startPolling();
    // Exponential backoff with full jitter, so a restarted server is not hit by every reader at once.
    // After 8 attempts (or a TOO_MANY_SOCKETS/POLICY_VIOLATION close) the ceiling is ten times higher.
    const cap = this.attempts >= 8 ? BACKOFF_CAP * 10 : BACKOFF_CAP;
    const delay = jittered(this.attempts, cap);
    this.attempts += 1;
    clearTimeout(this.reconnectTimer);
    // The server's hello names its newest seq; the catch-up follows from that (or from polling).
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
    this.reconnectAt = Date.now() + delay;
  }

  serverAnswered() {
    // A catch-up answered while no socket is in service: the server is back, so reconnect within
    // a moment instead of up to BACKOFF_CAP later, polling all the while (each reader's poll or
    // retry comes at its own jittered time, so the herd stays spread). Its hello then finds
    // nothing missing. Polling resumes if that attempt fails too. Not when the server asked for
    // the long backoff (TOO_MANY_SOCKETS/POLICY_VIOLATION): there polling is the way to stay current.
    if (this.stopped || this.throttled || (!this.pollTimer && !this.reconnectTimer)) return;
    this.stopPolling();
    if (!this.reconnectTimer) return; // a socket is connecting already
    const delay = Math.random() * BACKOFF_BASE;
    if (Date.now() + delay >= this.reconnectAt) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
    this.reconnectAt = Date.now() + delay;
  }

  pollDelay() {
    // Jittered per tick: readers that lost their sockets together do not poll together.
    return (document.hidden ? POLL_HIDDEN : POLL_VISIBLE) * (0.5 + Math.random());
  }

  startPolling() {
    if (this.pollTimer) return;
    const tick = () => {
      this.feed.catchUp();
      this.pollTimer = setTimeout(tick, this.pollDelay());
    };
    this.pollTimer = setTimeout(tick, this.pollDelay());
  }

  stopPolling() {
    clearTimeout(this.pollTimer);
    this.pollTimer = null;
  }

  // Everything stops: socket, timers, polling and the feed's retries.
  stop() {
    this.feed.stop();
    this.stopPolling();
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.heartbeatTimer);
    if (this.socket) this.socket.close(Close.NORMAL);
    this.socket = null;
  }
}
