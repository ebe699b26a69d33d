// Every change is announced (the preview follows it) and kept as a draft in localStorage per blog:
// restored on load, cleared after a publish, kept when a publish fails.

import { composerForm, editorOf } from "./form.js";

const DRAFT_FIELDS = ["headline", "body", "is_important", "source", "image_caption", "image_credit", "image_alt"];
const DRAFT_DELAY_MS = 400;

let draftTimer = null;

export function changed() {
  document.body.dispatchEvent(new CustomEvent("composer:change"));
  clearTimeout(draftTimer);
  draftTimer = setTimeout(saveDraft, DRAFT_DELAY_MS);
}

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

export function saveDraft() {
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

export function clearDraft(form) {
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

export function restoreDraft() {
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

export function discardDraft() {
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

// A reload or a closed tab must not lose the last keystrokes still waiting for the timer.
window.addEventListener("pagehide", () => draftTimer && saveDraft());

// A restored body set before its editor was ready: give it to the editor now.
export function editorReady(editor, textarea) {
  if (pendingBody !== null && textarea.form === composerForm()) {
    editor.commands.setContent(pendingBody);
    pendingBody = null;
  }
}

// htmx is set up: a restored draft's preview can be asked for now.
export function htmxReady() {
  if (previewPending) {
    previewPending = false;
    changed();
  }
}