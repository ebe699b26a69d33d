// A tiptap extension for django-prose-editor's "configurable" preset, switched on in
// settings.PROSE_EDITOR_EXTENSIONS and loaded through settings.DJANGO_PROSE_EDITOR_EXTENSIONS.
//
// Tiptap injects its base CSS as a <style data-tiptap-style> element, which our CSP
// (style-src 'self', no 'unsafe-inline') blocks: one violation per page with an editor, and the
// rules never applied. Its `injectCSS: false` option turns that off, but django-prose-editor
// builds the Editor itself; an extension's onBeforeCreate runs in the Editor's constructor,
// before it mounts and would inject. The same rules come from static/css/prose-editor.css, which
// the templates showing an editor link to.
import { Extension } from "django-prose-editor/editor";

export const StaticEditorStyles = Extension.create({
  name: "staticEditorStyles",

  onBeforeCreate() {
    this.editor.setOptions({ injectCSS: false });
  },
});
