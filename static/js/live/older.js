// "Load older posts": htmx swaps the server's next page in for the link. Posts that events
// changed while that page was on its way are merged into it, so that nothing comes twice and
// nothing comes outdated.
import { belowOlder, children, insertSorted } from "./order.js";

export class OlderPosts {
  constructor(postsEl) {
    this.postsEl = postsEl;
    // While older posts are on their way: post id -> the newest markup of each post below the
    // link that an event changed (null: deleted) since the request left. The answer may predate
    // those events; merge() applies them to it.
    this.loading = null;
  }

  // An event changed (article) or deleted (null) this post; a request on its way may bring it.
  changed(id, article) {
    this.loading?.set(id, article);
  }

  listen() {
    document.addEventListener("htmx:beforeRequest", (event) => {
      if (this.isOlderLink(event.detail.target)) this.loading ??= new Map();
    });
    document.addEventListener("htmx:beforeSwap", (event) => {
      if (!this.isOlderLink(event.detail.target)) return;
      const changes = this.loading || new Map();
      this.loading = null;
      if (event.detail.shouldSwap) event.detail.serverResponse = merge(event.detail.serverResponse, changes);
    });
  }

  isOlderLink(element) {
    return element instanceof Element && element.matches(".load-older") && element.parentElement === this.postsEl;
  }
}

function merge(html, changes) {
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
