// Relative times ("vor 5 Minuten") next to the absolute ones, for the last few hours, and the
// live bar's "Last update".
import { keyOf, published, sortKey } from "./order.js";

const RELATIVE_FOR = 6 * 3600 * 1000;

export class Times {
  constructor(lastUpdate) {
    this.lastUpdate = lastUpdate; // <time id="last-update">, absent in the embed and on empty blogs
    this.relative = "RelativeTimeFormat" in Intl
      ? new Intl.RelativeTimeFormat(document.documentElement.lang || undefined, { numeric: "auto" })
      : null;
  }

  ago(when) {
    const seconds = Math.round((when - Date.now()) / 1000);
    if (Math.abs(seconds) < 60) return this.relative.format(0, "minute");
    if (Math.abs(seconds) < 3600) return this.relative.format(Math.round(seconds / 60), "minute");
    return this.relative.format(Math.round(seconds / 3600), "hour");
  }

  post(article) {
    if (!this.relative) return;
    const when = published(article);
    const time = article.querySelector("header time");
    if (!time || !when) return;
    let label = article.querySelector(".post__ago");
    if (Date.now() - when > RELATIVE_FOR) { label?.remove(); return; }
    if (!label) {
      label = Object.assign(document.createElement("span"), { className: "post__ago" });
      time.after(" ", label);
    }
    label.textContent = `(${this.ago(when)})`;
  }

  // "Last update" as data-published (the server renders it; advance() sets it) or else its datetime.
  lastUpdateStamp() {
    // datetime attributes end in +0100 (valid HTML); Date.parse wants +01:00.
    return this.lastUpdate?.dataset.published
      || (this.lastUpdate?.getAttribute("datetime") || "").replace(/([+-]\d\d)(\d\d)$/, "$1:$2");
  }

  lastUpdateMicros() {
    return sortKey(this.lastUpdateStamp(), 0)[0];
  }

  // A post newly shown in the stream: "Last update" moves to it if it is newer (see place()).
  advance(article) {
    if (this.lastUpdate && published(article) && keyOf(article)[0] > this.lastUpdateMicros()) {
      this.lastUpdate.dateTime = article.querySelector("time")?.getAttribute("datetime") || "";
      this.lastUpdate.dataset.published = article.dataset.published;
      this.refresh();
    }
  }

  refresh() {
    if (!this.relative) return;
    document.querySelectorAll("article.post").forEach((article) => this.post(article));
    const last = Date.parse(this.lastUpdateStamp());
    if (this.lastUpdate && last) {
      this.lastUpdate.title ||= this.lastUpdate.textContent;
      this.lastUpdate.textContent = this.ago(last);
    }
  }
}
