// Where a post belongs on the page: the server's order, and the "Load older posts" boundary.
// Pure functions over the DOM; `container` is #posts or the fragment "Load older posts" brings
// (see older.js).

export function published(article) {
  return Date.parse(article.dataset.published || "") || 0;
}

// The server's order, newest first: published_at, then id (posts.models.Post.Meta.ordering).
// data-published has microseconds, which Date.parse drops: they count too, so that the page
// agrees with the server about which posts lie below "Load older posts".
export function sortKey(published, id) {
  const fraction = /\.(\d+)/.exec(published || "");
  const micros = fraction ? Number((fraction[1] + "000000").slice(3, 6)) : 0;
  return [(Date.parse(published || "") || 0) * 1000 + micros, Number(id) || 0];
}

export function keyOf(article) {
  return sortKey(article.dataset.published, article.id.replace(/^post-/, ""));
}

export function sortsAfter(a, b) {
  return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
}

export function children(container, selector) {
  return [...container.children].filter((child) => child.matches(selector));
}

export function insertSorted(article, container) {
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
export function belowOlder(article, container) {
  const link = children(container, ".load-older")[0];
  return !!link?.dataset.post && sortsAfter(keyOf(article), sortKey(link.dataset.published, link.dataset.post));
}
