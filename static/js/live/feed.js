// Events in seq order, and catching up from the event log (data-events-url?after=<seq>).
//
// Every event has a per-blog sequence number; the page carries the seq it was rendered at.
// Pushes are applied in order; one that skips a seq waits for the missing one, and whatever is
// still missing after a moment, or announced by the server (hello, ping), comes from the event
// log. Applying an event twice is harmless (each carries the post's current markup), so overlaps
// between push and catch-up cost nothing.

export const BACKOFF_BASE = 1000;
export const BACKOFF_CAP = 30000;

// Exponential backoff with full jitter: a delay anywhere up to the attempt's ceiling.
export function jittered(attempt, cap = BACKOFF_CAP) {
  return Math.random() * Math.min(cap, BACKOFF_BASE * 2 ** attempt);
}

export class Feed {
  // apply(event): show one event; settled(): after a batch of them; answered(): the event log
  // answered; gone(): the blog is gone for readers (404).
  constructor({ url, seq, apply, settled, answered, gone }) {
    this.url = url;
    this.hooks = { apply, settled, answered, gone };
    this.lastSeq = seq;
    this.pendingSeq = 0; // the newest seq the server has announced
    this.buffered = new Map(); // seq -> event that arrived ahead of a gap
    this.failures = 0; // catch-ups that failed in a row
    this.retryTimer = null; // one retry of a failed catch-up at a time
    this.soonTimer = null;
    this.catchingUp = null;
    this.stopped = false;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
  }

  // An event frame from the socket.
  receive(event) {
    if (event.seq <= this.lastSeq) return; // already applied
    if (event.seq === this.lastSeq + 1) {
      this.lastSeq = event.seq;
      this.hooks.apply(event);
      this.drainBuffer();
      this.hooks.settled();
    } else {
      // Pushes from concurrent editors can overtake each other: give the missing one a moment
      // to arrive by push before asking the server (every reader sees the same gap at once).
      this.buffered.set(event.seq, event);
      this.catchUpSoon();
    }
  }

  // The server's newest seq, from its hello or heartbeat.
  announced(lastSeq) {
    if (!(lastSeq > this.lastSeq)) return;
    // Every reader hears the same ping at once: spread the catch-ups over a moment.
    this.pendingSeq = Math.max(this.pendingSeq, lastSeq);
    this.catchUpSoon();
  }

  catchUpSoon(maxDelay = 2000) {
    if (this.soonTimer) return;
    this.soonTimer = setTimeout(() => {
      this.soonTimer = null;
      if (this.missingSomething()) this.catchUp();
    }, 300 + Math.random() * maxDelay);
  }

  drainBuffer() {
    const buffered = this.buffered;
    while (buffered.has(this.lastSeq + 1)) {
      const next = buffered.get(this.lastSeq + 1);
      buffered.delete(this.lastSeq + 1);
      this.lastSeq = next.seq;
      this.hooks.apply(next);
    }
    for (const seq of buffered.keys()) if (seq <= this.lastSeq) buffered.delete(seq);
  }

  missingSomething() {
    return this.buffered.size > 0 || this.pendingSeq > this.lastSeq;
  }

  // Resolves (never rejects) when this catch-up, or the one already under way, is done.
  catchUp() {
    if (this.catchingUp) return this.catchingUp.catch(() => {});
    this.catchingUp = (async () => {
      try {
        for (;;) {
          const response = await fetch(`${this.url}?after=${this.lastSeq}`, {
            headers: { Accept: "application/json" }, cache: "no-store",
          });
          if (response.status === 404) { this.hooks.gone(); return; }
          if (!response.ok) throw new Error(`catch-up answered ${response.status}`);
          const data = await response.json();
          for (const event of data.events) {
            if (event.seq > this.lastSeq) {
              this.lastSeq = event.seq;
              this.hooks.apply(event);
            }
          }
          this.drainBuffer();
          this.hooks.settled();
          this.failures = 0;
          // A retry still pending would ask again for what this answer just brought.
          clearTimeout(this.retryTimer);
          this.retryTimer = null;
          this.hooks.answered();
          if (this.stopped || !data.events.length || this.lastSeq >= data.last_seq) break;
        }
      } catch (error) {
        // A busy server or a network blip: try again later, backing off with jitter.
        this.failures += 1;
        const delay = jittered(this.failures);
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => { this.retryTimer = null; if (!this.stopped) this.catchUp(); }, delay);
        throw error;
      } finally {
        this.catchingUp = null;
      }
      // Announced while this catch-up was under way and not in its answer, or a push still
      // waiting behind a gap: ask once more, a moment later. (A reconnect's hello never is: the
      // answer was read after it.)
      if (!this.stopped && this.missingSomething()) this.catchUpSoon();
    })();
    return this.catchingUp.catch(() => {});
  }
}
