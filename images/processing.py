"""Uploaded images: validate, re-encode, and store renditions.

Every image an editor uploads (avatars, post photos) is decoded by Pillow and written anew as WebP.
Re-encoding is the defence: whatever the upload carried besides pixels (EXIF with GPS positions,
a polyglot's HTML, trailing data) is not copied. Checks run on the header before any pixel is
decoded, so a decompression bomb costs a few kilobytes of reading, not gigabytes of memory.
"""

from __future__ import annotations

import io
import math
import secrets
import warnings
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = {"JPEG", "PNG", "GIF", "WEBP"}
AVATAR_SIZES = (64, 128, 256)
PHOTO_WIDTHS = (480, 960, 1600)
WEBP_QUALITY = 82


@dataclass
class ProcessedImage:
    """Re-encoded renditions of one upload, not yet stored."""

    width: int
    height: int
    renditions: dict[int, bytes] = field(default_factory=dict)

    @property
    def largest(self) -> int:
        return max(self.renditions)

    def save(self, folder: str) -> str:
        """Store every rendition under one random stem; return the name of the largest."""
        stem = f"{folder}/{secrets.token_hex(12)}"
        for size, data in self.renditions.items():
            default_storage.save(rendition_name(stem, size), ContentFile(data))
        return rendition_name(stem, self.largest)


def rendition_name(stem: str, size: int) -> str:
    return f"{stem}-{size}.webp"


def rendition_of(name: str, size: int) -> str:
    """Name of another rendition stored beside `name` (which ends in -<size>.webp)."""
    stem = name.rsplit("-", 1)[0]
    return rendition_name(stem, size)


def photo_widths(width: int | None) -> list[int]:
    """The widths a photo's renditions are stored at, ascending, given its largest (stored) width.

    process_photo() stores each of PHOTO_WIDTHS below the upload's width and then the upload itself
    (or the largest of PHOTO_WIDTHS): so the stored width is always among them.
    """
    if not width:
        return []
    widths = [w for w in PHOTO_WIDTHS if w <= width]
    if width not in widths:
        widths.append(width)
    return widths


def delete_renditions(name: str, sizes: tuple[int, ...]) -> None:
    """Delete `name` and its renditions at `sizes` (missing files are skipped).

    `name` itself is deleted too: a photo narrower than the largest of PHOTO_WIDTHS has its
    largest rendition at its own width, which is in no list of sizes.
    """
    for stored in dict.fromkeys([name, *(rendition_of(name, size) for size in sizes)]):
        default_storage.delete(stored)


def _open(upload) -> Image.Image:
    """Open an upload after checking size, format and dimensions; raise ValidationError."""
    max_bytes = settings.MAX_UPLOAD_BYTES
    size = getattr(upload, "size", None)
    if size is None:
        upload.seek(0, io.SEEK_END)
        size = upload.tell()
    if size > max_bytes:
        raise ValidationError(
            _("The file is %(size)s MB; images may be at most %(max)s MB."),
            code="too_large",
            # Rounded up: 10 MB + 1 byte reads "10.1 MB", not "10.0 MB" against a limit of 10 MB.
            params={"size": math.ceil(size * 10 / 1024 / 1024) / 10, "max": max_bytes // 1024 // 1024},
        )
    upload.seek(0)
    head = upload.read(512).lstrip().lower()
    upload.seek(0)
    if head.startswith(b"<") or b"<svg" in head:
        raise ValidationError(
            _("SVG and other markup files are not accepted. Upload a JPEG, PNG, GIF or WebP."),
            code="markup",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Image, not ImageFile: exif_transpose() and convert() below give plain Images.
            image: Image.Image = Image.open(upload)
            fmt = image.format
            width, height = image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationError(
            _("The image has too many pixels to be processed safely."), code="bomb"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ValidationError(
            _("This file is not an image we can read. Upload a JPEG, PNG, GIF or WebP."),
            code="not_an_image",
        ) from None
    if fmt not in ACCEPTED_FORMATS:
        raise ValidationError(
            _("Images must be JPEG, PNG, GIF or WebP (this one is %(format)s)."),
            code="format",
            params={"format": fmt},
        )
    if width * height > settings.MAX_IMAGE_PIXELS:
        raise ValidationError(_("The image has too many pixels to be processed safely."), code="bomb")
    try:
        image.load()
    except (OSError, SyntaxError, ValueError):
        raise ValidationError(_("The image file is damaged and cannot be read."), code="damaged") from None
    # Phones store rotation in EXIF; apply it before EXIF is dropped.
    image = ImageOps.exif_transpose(image)
    if image.mode.startswith("I"):
        # 16-bit greyscale (PNG): scale to 8 bits; a plain convert() clips everything to white.
        image = image.convert("I").point(lambda v: v * (1 / 256), "L")
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB")
    return image


def _encode(image: Image.Image) -> bytes:
    out = io.BytesIO()
    # No exif= and no icc_profile=: nothing of the upload's metadata is written.
    image.save(out, format="WEBP", quality=WEBP_QUALITY, method=4)
    return out.getvalue()


def process_avatar(upload) -> ProcessedImage:
    """Square renditions (64, 128, 256 px) of an uploaded portrait."""
    image = _open(upload)
    renditions = {
        size: _encode(ImageOps.fit(image, (size, size), Image.Resampling.LANCZOS, centering=(0.5, 0.4)))
        for size in AVATAR_SIZES
    }
    return ProcessedImage(width=AVATAR_SIZES[-1], height=AVATAR_SIZES[-1], renditions=renditions)


def process_photo(upload) -> ProcessedImage:
    """Renditions of a post image at the widths in PHOTO_WIDTHS (never upscaled)."""
    image = _open(upload)
    width, height = image.size
    renditions: dict[int, bytes] = {}
    for target in PHOTO_WIDTHS:
        if target >= width:
            renditions[width] = _encode(image)
            break
        # At least 1 px high: a very wide panorama would otherwise scale to height 0 and crash.
        scaled = image.resize((target, max(1, round(height * target / width))), Image.Resampling.LANCZOS)
        renditions[target] = _encode(scaled)
    largest = max(renditions)
    return ProcessedImage(
        width=largest, height=max(1, round(height * largest / width)), renditions=renditions
    )
