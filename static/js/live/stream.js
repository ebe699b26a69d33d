// Placing posts: the stream (#posts), the pinned slot, the "Important updates" list, and new
// posts held back while the reader is away. The server renders every fragment (the same partial
// as the page); this only decides where it goes.
import { OlderPosts } from "./older.js";
import { belowOlder, insertSorted, keyOf, sortKey, sortsAfter } from "./order.js";
import { highlight } from "./ui.js";

export class Stream {
  constructor({ postsEl, pinnedEl, importantList, ui, times }) {
    this.postsEl = postsEl;
    this.pinnedEl = pinnedEl;
    this.importantList = importantList;
    this.ui = ui;
    this.times = times;
    this.older = new OlderPosts(postsEl);
    this.paused = false;
    this.pending = new Map(); // post id -> markup of new posts held back while the reader is away
  }

  readerIsAway() {
    return this.paused || window.scrollY > this.postsEl.offsetTop + 40;
  }

  place(id, article) {
    const { postsEl, pinnedEl, pending } = this;
    const current = document.getElementById(`post-${id}`);
    if (!article) {
      // Every copy: the page should hold one, but a deleted post must never stay behind.
      for (let copy = current; copy; copy = document.getElementById(`post-${id}`)) copy.remove();
      pending.delete(id);
      this.older.changed(id, null); // the older posts on their way may still have it
      this.syncImportant(id, null);
      this.updateVisibility();
      return;
    }
    const becameImportant = this.syncImportant(id, article);
    if (becameImportant) this.ui.announceImportant(article.querySelector(".post__headline")?.textContent.trim());
    // Placed now, or held back again below: a copy held back earlier is outdated either way
    // ("Show new updates" would insert it beside this one).
    pending.delete(id);
    let shown = true;
    if (article.hasAttribute("data-pinned")) {
      current?.remove();
      pinnedEl.replaceChildren(article);
    } else if (current && current.parentElement !== pinnedEl) {
      current.replaceWith(article); // edits apply in place, silently
    } else if (belowOlder(article, postsEl)) {
      // An older post than the page shows (edited, flagged, unpinned, restored): "Load older
      // posts" brings it in its current version. Inserted here, it would then be there twice.
      current?.remove(); // leaves the pinned slot
      this.older.changed(id, article); // newer than what the request on its way may bring
      shown = false;
    } else if (current) {
      current.remove(); // unpinned: back into the stream
      insertSorted(article, postsEl);
    } else if (this.readerIsAway()) {
      pending.set(id, article); // never push content under a reader who scrolled or paused
    } else {
      insertSorted(article, postsEl);
      highlight(article);
    }
    this.updateVisibility();
    // Only forward: a restored or backdated post comes in at its old time, below newer ones.
    if (shown && !current) this.times.advance(article);
    this.times.post(article);
  }

  syncImportant(id, article) {
    const list = this.importantList;
    const item = list.querySelector(`li[data-post="${id}"]`);
    if (!article || !article.hasAttribute("data-important")) {
      if (item) item.remove();
      if (!list.querySelector("li[data-post]")) {
        list.querySelector("li.empty")?.removeAttribute("hidden");
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
      const next = [...list.querySelectorAll("li[data-post]")].find(
        (other) => sortsAfter(sortKey(other.dataset.published, other.dataset.post), key),
      );
      list.insertBefore(li, next || null);
    }
    list.querySelector("li.empty")?.setAttribute("hidden", "");
    return !item;
  }

  updateVisibility() {
    const { postsEl, pinnedEl } = this;
    pinnedEl.hidden = !pinnedEl.querySelector("article.post");
    // The server's "No updates yet." goes away with the first live post (and back with the last).
    const empty = postsEl.querySelector(":scope > p.empty");
    if (empty) empty.hidden = !!postsEl.querySelector(":scope > article.post");
  }

  showCount() {
    this.ui.showCount(this.pending.size);
  }

  showPending() {
    const held = [...this.pending];
    this.pending.clear();
    for (const [id, article] of held) {
      // On the page since (placed by an event): that copy is newer.
      if (document.getElementById(`post-${id}`)) continue;
      insertSorted(article, this.postsEl);
      highlight(article);
    }
    this.updateVisibility();
    this.showCount();
    this.postsEl.scrollIntoView({ block: "start" });
  }
}
