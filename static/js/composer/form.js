// What every part of the composer needs to know about its form and its rich-text editor.

export const SELECTOR = "[data-django-prose-editor-configurable]";
export const FORM_ID = "composer-form";

export const composerForm = () => document.getElementById(FORM_ID);
export const inForm = (node) => node instanceof Element && node.closest(`#${FORM_ID}`);

// ProseMirror's editable area has no name of its own: give it the textarea's label.
export function labelEditor(textarea) {
  const label = document.querySelector(`label[for="${textarea.id}"]`);
  const area = textarea.closest(".prose-editor")?.querySelector(".ProseMirror");
  if (label && area) {
    label.id ||= `${textarea.id}_label`;
    area.setAttribute("aria-labelledby", label.id);
  }
}

// Tiptap keeps its editor on the editable element.
export const editorOf = (textarea) =>
  textarea?.closest(".prose-editor")?.querySelector(".ProseMirror")?.editor ?? null;
