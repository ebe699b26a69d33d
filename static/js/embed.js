// Inside a partner's iframe: tell the parent page how tall we are, whenever that changes, so it
// can size the frame without scrollbars. The parent listens for {type: "liveblog:height"}.
(function () {
  "use strict";
  if (window.parent === window) return;
  let last = 0;
  function report() {
    const height = Math.ceil(document.documentElement.scrollHeight);
    if (height === last) return;
    last = height;
    window.parent.postMessage({ type: "liveblog:height", height, url: location.pathname }, "*");
  }
  new ResizeObserver(report).observe(document.body);
  window.addEventListener("load", report);
  report();
})();
