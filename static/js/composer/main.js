// The editors' desk: the composer form on a live blog's admin page, built for speed.
//
// - The form is swapped by htmx after each publish: start the rich-text editor (and Select2) on
//   the fresh form, and put the cursor back in the headline.
// - Ctrl+Enter (Cmd+Enter) anywhere in the form publishes, inside the rich-text editor too.
// - Every change announces `composer:change` on <body>; the preview pane (hx-trigger in the
//   template) posts the form ~300 ms after the last one.
// - The draft being typed is kept in localStorage per blog, restored on load, cleared after a
//   publish.
// - A chosen image is shown next to the file field, and its alt text is asked for.
// - A deleted post's "Undo" goes away after the time the server said it is offered.
// - A publish that fails (an error answer, or no answer at all) says so, and leaves the form and the
//   text in it as they were.
import { createEditor } from "django-prose-editor/configurable";

import { changed, clearDraft, discardDraft, editorReady, htmxReady, restoreDraft, saveDraft } from "./draft.js";
import { FORM_ID, SELECTOR, inForm, labelEditor } from "./form.js";
import { revokeUpload, showUpload } from "./upload.js";

document.addEventListener("input", (event) => inForm(event.target) && changed());
document.addEventListener("change", (event) => inForm(event.target) && changed());
document.getElementById("composer-draft-discard")?.addEventListener("click", discardDraft);

// ---- the rich-text editor and the author picker ---------------------------------------------

document.addEventListener("prose-editor:ready", (event) => {
  const { editor, textarea } = event.detail;
  labelEditor(textarea);
  editorReady(editor, textarea);
});
document.querySelectorAll(SELECTOR).forEach(labelEditor); // editors that were ready before us

document.addEventListener("htmx:load", (event) => {
  event.target.querySelectorAll(SELECTOR).forEach((textarea) => createEditor(textarea));
  // The admin's author picker (Select2) also initialises only at page load.
  const $ = window.django?.jQuery;
  if ($?.fn.djangoAdminSelect2) {
    $(event.target).find(".admin-autocomplete").not("[data-select2-id]").djangoAdminSelect2();
  }
  armUndo(event.target);
  htmxReady();
});

// Select2 reports a pick with jQuery's "change", which native listeners never see.
window.django?.jQuery?.(document).on("change", `#${FORM_ID} select`, changed);

// ---- publishing from the keyboard ---------------------------------------------------------------

// Capture phase: before ProseMirror, which would insert a line break for Mod+Enter.
document.addEventListener(
  "keydown",
  (event) => {
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey) || event.isComposing) return;
    const form = inForm(event.target);
    if (!form) return;
    event.preventDefault();
    event.stopPropagation();
    // A fresh form still settling carries the old form's "htmx-request" class: the submit guard
    // below takes that press.
    if (form.classList.contains("htmx-settling") || !form.classList.contains("htmx-request")) {
      form.requestSubmit(); // not twice while sending
    }
  },
  true,
);
// htmx wires swapped-in content up only when it settles: 20 ms later, more on a busy machine. A
// form submitted in that window (the fresh composer form after a publish, a post's buttons in the
// list just refreshed by the poll) would be posted by the browser as a whole page. Hold the submit
// and send it through htmx once the content is ready.
let heldSubmit = null;
document.addEventListener(
  "submit",
  (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.closest("#composer .htmx-settling")) return;
    event.preventDefault();
    heldSubmit = { form, submitter: event.submitter };
  },
  true,
);
document.addEventListener("htmx:afterSettle", () => {
  if (!heldSubmit || heldSubmit.form.closest(".htmx-settling")) return;
  const { form, submitter } = heldSubmit;
  heldSubmit = null;
  if (form.isConnected) form.requestSubmit(submitter?.form === form ? submitter : undefined);
});

// ---- after htmx swaps -------------------------------------------------------------------------

document.addEventListener("htmx:afterSwap", (event) => {
  const target = event.target;
  if (target.id === FORM_ID || event.detail.elt?.id === FORM_ID) {
    if (target.dataset?.published) {
      // Published: the fresh form is empty, so is the draft; the preview goes back to its note.
      clearDraft(target);
      revokeUpload();
      changed();
    }
    // Move focus back to the headline, so the next update can be typed at once.
    document.getElementById("id_headline")?.focus();
  }
  if (target.id === "composer-posts") {
    // After Delete the row offers Undo: put the keyboard there; after Undo, back on the row.
    const match = (event.detail.pathInfo?.requestPath || "").match(/\/posts\/(\d+)\/(delete|restore)\/$/);
    const row = match && document.getElementById(`desk-post-${match[1]}`);
    const next = row?.querySelector(match[2] === "delete" ? ".desk__undo button" : ".desk__actions a, .desk__actions button");
    next?.focus();
  }
});

// ---- a publish that did not arrive ------------------------------------------------------------

// htmx swaps no error answer (4xx/5xx, e.g. 503 while the database is down) and gets no answer
// when the network fails: the form stays as it is, with all that was typed. Say that it was not
// saved, take away an earlier "Published: …" (it is not about this text), and keep the draft.
const isPublish = (event) => event.detail.elt?.id === FORM_ID;

function showSaveError(kind) {
  const note = document.getElementById("composer-error");
  if (!note) return;
  note.textContent = note.dataset[kind];
  note.hidden = false;
  const status = document.getElementById("composer-status");
  if (status) status.textContent = "";
  saveDraft(); // a reload, or a closed tab, keeps the text too
}

// A post's own buttons (important, pin, delete, undo) fail just as silently otherwise.
const isAction = (event) => event.detail.elt?.classList?.contains("desk__action");

function showActionError() {
  const note = document.getElementById("composer-error");
  if (!note) return;
  note.textContent = note.dataset.actionError;
  note.hidden = false;
}

document.addEventListener("htmx:responseError", (event) => {
  if (isPublish(event)) showSaveError("serverError");
  else if (isAction(event)) showActionError();
});
document.addEventListener("htmx:sendError", (event) => {
  if (isPublish(event)) showSaveError("networkError");
  else if (isAction(event)) showActionError();
});
document.addEventListener("htmx:beforeRequest", (event) => {
  const note = document.getElementById("composer-error");
  if (note && (isPublish(event) || isAction(event))) note.hidden = true; // trying again: the answer will tell
});

// ---- the image: show it, ask for its description -----------------------------------------------

document.addEventListener("change", (event) => {
  if (inForm(event.target) && event.target.matches("input[type=file][name=image_upload]")) {
    showUpload(event.target);
  }
});

// ---- Undo after a delete ----------------------------------------------------------------------

function armUndo(root) {
  root.querySelectorAll?.(".desk__undo[data-undo-seconds]:not([data-armed])").forEach((undo) => {
    undo.dataset.armed = "";
    setTimeout(() => undo.remove(), Number(undo.dataset.undoSeconds) * 1000);
  });
}

document.addEventListener("htmx:afterSettle", (event) => armUndo(event.target));

// ---- on load ------------------------------------------------------------------------------------

armUndo(document);
restoreDraft();
document.getElementById("id_headline")?.focus();