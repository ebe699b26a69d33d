// The composer's form is swapped by htmx after each publish; start the rich-text editor on the
// fresh textarea (django-prose-editor initialises only what exists at page load).
import { createEditor } from "django-prose-editor/configurable";

const SELECTOR = "[data-django-prose-editor-configurable]";

document.addEventListener("htmx:load", (event) => {
  event.target.querySelectorAll(SELECTOR).forEach((textarea) => createEditor(textarea));
});

// Move focus back to the headline after a publish, so the next update can be typed at once.
document.addEventListener("htmx:afterSwap", (event) => {
  if (event.target.id === "composer-form" || event.detail.elt?.id === "composer-form") {
    document.getElementById("id_headline")?.focus();
  }
});
