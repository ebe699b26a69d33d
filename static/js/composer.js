// The composer's form is swapped by htmx after each publish; start the rich-text editor on the
// fresh textarea (django-prose-editor initialises only what exists at page load).
import { createEditor } from "django-prose-editor/configurable";

const SELECTOR = "[data-django-prose-editor-configurable]";

// ProseMirror's editable area has no name of its own: give it the textarea's label.
function labelEditor(textarea) {
  const label = document.querySelector(`label[for="${textarea.id}"]`);
  const area = textarea.closest(".prose-editor")?.querySelector(".ProseMirror");
  if (label && area) {
    label.id ||= `${textarea.id}_label`;
    area.setAttribute("aria-labelledby", label.id);
  }
}

document.addEventListener("prose-editor:ready", (event) => labelEditor(event.detail.textarea));
document.querySelectorAll(SELECTOR).forEach(labelEditor); // editors that were ready before us

document.addEventListener("htmx:load", (event) => {
  event.target.querySelectorAll(SELECTOR).forEach((textarea) => createEditor(textarea));
  // The admin's author picker (Select2) also initialises only at page load.
  const $ = window.django?.jQuery;
  if ($?.fn.djangoAdminSelect2) {
    $(event.target).find(".admin-autocomplete").not("[data-select2-id]").djangoAdminSelect2();
  }
});

// Move focus back to the headline after a publish, so the next update can be typed at once.
document.addEventListener("htmx:afterSwap", (event) => {
  if (event.target.id === "composer-form" || event.detail.elt?.id === "composer-form") {
    document.getElementById("id_headline")?.focus();
  }
});
