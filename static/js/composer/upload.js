// The image chosen for a post: shown next to the file field, and its description asked for.

let uploadUrl = null;

export function revokeUpload() {
  if (uploadUrl) URL.revokeObjectURL(uploadUrl);
  uploadUrl = null;
}

export function showUpload(input) {
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
