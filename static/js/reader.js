// Reader comforts that the live client does not need to know about:
//
// - Low-data mode (#low-data-toggle, remembered in localStorage): post images keep their box but
//   load only when tapped. This file is loaded without defer, in <head>, so that it can take the
//   images' src/srcset away as the parser inserts them, before the browser fetches them; images
//   that the live client inserts later are caught by a MutationObserver on #posts and #pinned.
// - Posts that arrive at the top of the stream slide the older ones down with a transform
//   (FLIP) instead of jumping them: no layout shift for the reader who is reading below.
//
// Without JavaScript none of this exists and the page is unchanged.
(function () {
  "use strict";

  const KEY = "liveblog:low-data";
  const IMAGES = "article.post figure img";
  let lowData = false;
  try { lowData = localStorage.getItem(KEY) === "1"; } catch { /* storage blocked: off */ }

  // ---- low-data mode -------------------------------------------------------------------------

  let loadLabel = "Load image";

  function defer(img) {
    if (img.dataset.deferredSrc !== undefined || img.dataset.loaded !== undefined) return;
    if (img.complete && img.naturalWidth > 0 && img.currentSrc) return; // already paid for
    const width = Number(img.getAttribute("width"));
    const height = Number(img.getAttribute("height"));
    if (width && height) img.style.aspectRatio = `${width} / ${height}`; // the box stays the same
    img.dataset.deferredSrc = img.getAttribute("src") || "";
    img.dataset.deferredSrcset = img.getAttribute("srcset") || "";
    img.removeAttribute("srcset");
    img.removeAttribute("src");
    const figure = img.closest("figure");
    if (figure) {
      figure.classList.add("is-deferred");
      addButton(figure);
    }
  }

  function addButton(figure) {
    if (!document.body || figure.querySelector(":scope > .image-load")) return;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "image-load";
    button.textContent = document.getElementById("low-data-toggle")?.dataset.loadImage || loadLabel;
    figure.prepend(button);
  }

  function restore(img) {
    if (img.dataset.deferredSrc === undefined) return;
    if (img.dataset.deferredSrcset) img.setAttribute("srcset", img.dataset.deferredSrcset);
    img.setAttribute("src", img.dataset.deferredSrc);
    delete img.dataset.deferredSrc;
    delete img.dataset.deferredSrcset;
    img.dataset.loaded = "";
    const figure = img.closest("figure");
    if (figure) {
      figure.classList.remove("is-deferred");
      figure.querySelector(":scope > .image-load")?.remove();
    }
  }

  function deferAll(root) {
    if (root.matches?.(IMAGES)) defer(root);
    root.querySelectorAll?.(IMAGES).forEach(defer);
  }

  // While the page is parsed: catch the post images as they are inserted (before any rendering,
  // hence before lazy loading decides to fetch them).
  let parsing = null;
  if (lowData) {
    document.documentElement.classList.add("low-data");
    parsing = new MutationObserver((records) => {
      for (const record of records) record.addedNodes.forEach((node) => node.nodeType === 1 && deferAll(node));
    });
    parsing.observe(document.documentElement, { childList: true, subtree: true });
  }

  // ---- new posts slide in instead of jumping the page ----------------------------------------

  const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

  function slideIn(postsEl, added) {
    // Called from a MutationObserver, i.e. after the insertion and before the next rendering.
    const first = added[0];
    const last = added[added.length - 1];
    let height = 0;
    for (const article of added) height += article.getBoundingClientRect().height;
    const top = first.getBoundingClientRect().top;
    // Only when the new posts land in or above the viewport, where the reader could see a jump.
    if (!height || top > window.innerHeight) return;
    const followers = [];
    for (let el = last.nextElementSibling; el; el = el.nextElementSibling) followers.push(el);
    for (let el = postsEl.nextElementSibling; el; el = el.nextElementSibling) followers.push(el);
    const visible = followers.filter((el) => el.getBoundingClientRect().top < window.innerHeight + height);
    for (const el of visible) {
      el.style.transition = "none";
      el.style.transform = `translateY(${-height}px)`;
    }
    for (const article of added) {
      article.style.transition = "none";
      article.style.opacity = "0";
    }
    const duration = reducedMotion.matches ? 0 : 450;
    requestAnimationFrame(() => requestAnimationFrame(() => {
      for (const el of visible) {
        el.style.transition = duration ? `transform ${duration}ms ease-out` : "";
        el.style.transform = "";
      }
      for (const article of added) {
        article.style.transition = duration ? `opacity ${duration}ms ease-out` : "";
        article.style.opacity = "";
      }
      setTimeout(() => {
        for (const el of [...visible, ...added]) el.style.transition = "";
      }, duration + 50);
    }));
  }

  // ---- wiring once the page is there ---------------------------------------------------------

  function start() {
    parsing?.disconnect();
    const toggle = document.getElementById("low-data-toggle");
    const containers = ["posts", "pinned"].map((id) => document.getElementById(id)).filter(Boolean);
    if (toggle?.dataset.loadImage) loadLabel = toggle.dataset.loadImage;
    document.querySelectorAll(".image-load").forEach((button) => { button.textContent = loadLabel; });

    if (toggle) {
      toggle.hidden = false;
      toggle.setAttribute("aria-pressed", String(lowData));
      toggle.addEventListener("click", () => {
        lowData = !lowData;
        toggle.setAttribute("aria-pressed", String(lowData));
        document.documentElement.classList.toggle("low-data", lowData);
        try { localStorage.setItem(KEY, lowData ? "1" : "0"); } catch { /* not remembered */ }
        containers.forEach((root) => root.querySelectorAll(IMAGES).forEach(lowData ? defer : restore));
      });
    }

    for (const root of containers) {
      // A tap on a held-back image (or its button) loads it.
      root.addEventListener("click", (event) => {
        const figure = event.target.closest?.("figure.is-deferred");
        if (!figure) return;
        event.preventDefault();
        figure.querySelectorAll("img").forEach(restore);
      });
    }

    const postsEl = document.getElementById("posts");
    const watcher = new MutationObserver((records) => {
      const arrived = [];
      const replaced = new Set(); // edits (replaceWith) and moves out of #pinned are no arrivals
      for (const record of records) {
        record.removedNodes.forEach((node) => node.nodeType === 1 && node.id && replaced.add(node.id));
      }
      for (const record of records) {
        record.addedNodes.forEach((node) => {
          if (node.nodeType !== 1) return;
          if (lowData) deferAll(node);
          if (record.target === postsEl && node.matches("article.post") && !replaced.has(node.id)) arrived.push(node);
        });
      }
      // New posts at the top of the stream (the live client's insertions, not "Load older posts").
      const top = arrived.filter((node) => !node.previousElementSibling?.matches("article.post")
        || arrived.includes(node.previousElementSibling));
      if (top.length && !document.hidden) slideIn(postsEl, top);
    });
    for (const root of containers) watcher.observe(root, { childList: true, subtree: true });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
