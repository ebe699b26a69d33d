// The reader's side of live updates: the "N new updates" button and "(N)" in the tab title, the
// pause toggle, the announcer for important updates, the arrival highlight and the
// "Reconnecting…" note. Each element may be absent (the embed has fewer): then that part is quiet.
export class Ui {
  constructor({ newButton, toggle, announcer, connectionNote }) {
    this.newButton = newButton;
    this.toggle = toggle;
    this.announcer = announcer;
    this.connectionNote = connectionNote;
    this.baseTitle = document.title;
  }

  // Posts held back while the reader is away (stream.js): shown on the button and in the title.
  showCount(count) {
    document.title = count ? `(${count}) ${this.baseTitle}` : this.baseTitle;
    const button = this.newButton;
    if (!button) return;
    button.hidden = count === 0;
    button.textContent = count === 1 ? button.dataset.one : (button.dataset.many || "").replace("%(n)s", count);
  }

  onShowNew(callback) {
    this.newButton?.addEventListener("click", callback);
  }

  // Live updates can be paused (WCAG 2.2.2); the button is shown only with this script.
  onPause(callback) {
    const toggle = this.toggle;
    if (!toggle) return;
    let paused = false;
    toggle.hidden = false;
    toggle.addEventListener("click", () => {
      paused = !paused;
      toggle.setAttribute("aria-pressed", String(paused));
      toggle.textContent = paused ? toggle.dataset.labelResume : toggle.dataset.labelPause;
      callback(paused);
    });
  }

  announceImportant(headline) {
    this.announce(`${this.announcer?.dataset.important || ""} ${headline}`);
  }

  announce(text) {
    const announcer = this.announcer;
    if (!announcer) return;
    announcer.textContent = "";
    // A fresh text node after a tick makes screen readers announce repeated messages too.
    setTimeout(() => { announcer.textContent = text; }, 50);
  }

  reconnecting(shown) {
    if (this.connectionNote) this.connectionNote.hidden = !shown;
  }
}

export function highlight(article) {
  article.classList.add("post--new");
  setTimeout(() => article.classList.remove("post--new"), 4000);
}
