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

const SELECTOR = "[data-django-prose-editor-configurable]";
const FORM_ID = "composer-form";
const DRAFT_FIELDS = ["headline", "body", "is_important", "source", "image_caption", "image_credit", "image_alt"];
const DRAFT_DELAY_MS = 400;

const composerForm = () => document.getElementById(FORM_ID);
const inForm = (node) => node instanceof Element && node.closest(`#${FORM_ID}`);

// ProseMirror's editable area has no name of its own: give it the textarea's label.
function labelEditor(textarea) {
  const label = document.querySelector(`label[for="${textarea.id}"]`);
  const area = textarea.closest(".prose-editor")?.querySelector(".ProseMirror");
  if (label && area) {
    label.id ||= `${textarea.id}_label`;
    area.setAttribute("aria-labelledby", label.id);
  }
}

// Tiptap keeps its editor on the editable element.
const editorOf = (textarea) => textarea?.closest(".prose-editor")?.querySelector(".ProseMirror")?.editor ?? null;

// ---- changes: preview and draft ---------------------------------------------------------------

let draftTimer = null;

function changed() {
  document.body.dispatchEvent(new CustomEvent("composer:change"));
  clearTimeout(draftTimer);
  draftTimer = setTimeout(saveDraft, DRAFT_DELAY_MS);
}

document.addEventListener("input", (event) => inForm(event.target) && changed());
document.addEventListener("change", (event) => inForm(event.target) && changed());

// ---- the local draft --------------------------------------------------------------------------

function readDraft(form) {
  const draft = {};
  for (const name of DRAFT_FIELDS) {
    const field = form.elements.namedItem(name);
    if (field) draft[name] = field.type === "checkbox" ? field.checked : field.value;
  }
  return draft;
}

// A draft is worth keeping when it holds some text (a ticked box alone is not).
const hasText = (draft) => DRAFT_FIELDS.some((name) => typeof draft?.[name] === "string" && draft[name].trim());

function storage() {
  try {
    return window.localStorage;
  } catch {
    return null; // storage disabled: the composer works, only without drafts
  }
}

function saveDraft() {
  clearTimeout(draftTimer);
  draftTimer = null;
  const form = composerForm();
  const key = form?.dataset.draftKey;
  if (!key) return;
  const draft = readDraft(form);
  try {
    if (hasText(draft)) storage()?.setItem(key, JSON.stringify({ ...draft, savedAt: Date.now() }));
    else storage()?.removeItem(key);
  } catch {
    // quota exceeded or storage gone: nothing to do but go on
  }
}

function loadDraft(key) {
  try {
    return JSON.parse(storage()?.getItem(key) || "null");
  } catch {
    return null;
  }
}

function clearDraft(form) {
  clearTimeout(draftTimer);
  draftTimer = null;
  if (form?.dataset.draftKey) storage()?.removeItem(form.dataset.draftKey);
  const note = document.getElementById("composer-draft");
  if (note) note.hidden = true;
}

let pendingBody = null; // a restored body waiting for its editor
let previewPending = false; // a restored draft waiting for htmx to preview it

function setBody(textarea, html) {
  textarea.value = html;
  const editor = editorOf(textarea);
  if (editor) {
    editor.commands.setContent(html);
    pendingBody = null;
  } else {
    pendingBody = html; // the editor reads the textarea when it starts; set it again when ready
  }
}

function restoreDraft() {
  const form = composerForm();
  const key = form?.dataset.draftKey;
  const draft = key && loadDraft(key);
  // Never over what the server sent back (a failed publish without JavaScript's help).
  if (!hasText(draft) || hasText(readDraft(form))) return;
  for (const name of DRAFT_FIELDS) {
    const field = form.elements.namedItem(name);
    if (!field || !(name in draft)) continue;
    if (name === "body") setBody(field, String(draft.body || ""));
    else if (field.type === "checkbox") field.checked = Boolean(draft[name]);
    else field.value = String(draft[name] ?? "");
  }
  const note = document.getElementById("composer-draft");
  if (note) note.hidden = false;
  // Module scripts run before htmx sets up the preview's trigger (on DOMContentLoaded): announce
  // the change again once it has (the first htmx:load), and now in case htmx was first.
  previewPending = true;
  changed();
}

function discardDraft() {
  const form = composerForm();
  if (!form) return;
  clearDraft(form);
  for (const name of DRAFT_FIELDS) {
    const field = form.elements.namedItem(name);
    if (!field) continue;
    if (name === "body") setBody(field, "");
    else if (field.type === "checkbox") field.checked = false;
    else field.value = "";
  }
  changed();
  document.getElementById("id_headline")?.focus();
}

document.getElementById("composer-draft-discard")?.addEventListener("click", discardDraft);
// A reload or a closed tab must not lose the last keystrokes still waiting for the timer.
window.addEventListener("pagehide", () => draftTimer && saveDraft());

// ---- the rich-text editor and the author picker ---------------------------------------------

document.addEventListener("prose-editor:ready", (event) => {
  const { editor, textarea } = event.detail;
  labelEditor(textarea);
  if (pendingBody !== null && inForm(textarea)) {
    editor.commands.setContent(pendingBody);
    pendingBody = null;
  }
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
  if (previewPending) {
    previewPending = false;
    changed();
  }
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

let uploadUrl = null;

function revokeUpload() {
  if (uploadUrl) URL.revokeObjectURL(uploadUrl);
  uploadUrl = null;
}

function showUpload(input) {
  const form = input.form;
  revokeUpload();
  input.parentElement.querySelector("img.desk__upload-preview")?.remove();
  const file = input.files?.[0];
  const alt = form.elements.namedItem("image_alt");
  const altRow = alt?.closest(".desk__field");
  if (alt) {
    alt.required = Boolean(file);
    altRow?.classList.toggle("desk__field--needed", Boolean(file));
    altRow?.querySelector("label")?.classList.toggle("required", Boolean(file));
    const note = altRow?.querySelector(".desk__needed");
    if (note) note.hidden = !file;
  }
  if (!file) return;
  uploadUrl = URL.createObjectURL(file);
  const img = Object.assign(document.createElement("img"), {
    className: "desk__upload-preview",
    src: uploadUrl,
    alt: "", // the chosen file's name is next to it; the description is asked for below
  });
  input.after(img);
  alt?.focus();
}

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
