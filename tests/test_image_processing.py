"""images.processing with real files: every upload is decoded by Pillow and re-encoded as WebP.

Inputs are built with Pillow in the test; outputs are opened with Pillow and, where it matters,
read chunk by chunk, so metadata cannot hide in a part Pillow does not report.
"""

import io
import struct
import zlib
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from PIL import Image

from images.processing import (
    PHOTO_WIDTHS,
    delete_renditions,
    process_avatar,
    process_photo,
    rendition_of,
)
from tests.factories import AuthorFactory, PostFactory

GPS_IFD = 0x8825
ORIENTATION = 0x0112
ROTATE_90_CW = 6  # EXIF orientation: rotate 90° clockwise to display
IMAGE_CHUNKS = {b"VP8 ", b"VP8L", b"VP8X", b"ALPH"}  # pixels only: no EXIF, XMP, ICCP chunks
MB = 1024 * 1024


# --- building inputs -------------------------------------------------------------------------


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def upload(data: bytes, name: str = "upload.jpg", content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def jpeg(size=(800, 600), color="green", **params) -> SimpleUploadedFile:
    return upload(encode(Image.new("RGB", size, color), "JPEG", **params))


def gps_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Phone 12"  # Model
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"  # GPSLatitudeRef
    gps[2] = (52.0, 31.0, 12.5)  # GPSLatitude: Berlin
    gps[3] = "E"  # GPSLongitudeRef
    gps[4] = (13.0, 24.0, 17.9)  # GPSLongitude
    return exif


def two_tone(size=(300, 200)) -> Image.Image:
    """Left half red, right half blue."""
    image = Image.new("RGB", size, (255, 0, 0))
    image.paste((0, 0, 255), (size[0] // 2, 0, size[0], size[1]))
    return image


def png_claiming(width: int, height: int) -> bytes:
    """A 1×1 PNG whose IHDR says width × height (CRC fixed up, so only the size is a lie)."""
    data = bytearray(encode(Image.new("1", (1, 1)), "PNG"))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def gif_html_polyglot() -> bytes:
    """A valid GIF carrying HTML in its comment extension and after its trailer."""
    html = b"<html><body><script>alert(document.cookie)</script></body></html>"
    gif = encode(Image.new("P", (120, 90), 1), "GIF", comment=html)
    return gif + html


# --- reading outputs -------------------------------------------------------------------------


def open_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def webp_chunks(data: bytes) -> list[bytes]:
    """FourCCs of the chunks in a RIFF/WebP file."""
    assert data[:4] == b"RIFF"
    assert data[8:12] == b"WEBP"
    chunks, offset = [], 12
    while offset + 8 <= len(data):
        fourcc = data[offset : offset + 4]
        (length,) = struct.unpack("<I", data[offset + 4 : offset + 8])
        chunks.append(fourcc)
        offset += 8 + length + (length & 1)
    return chunks


def stored_files(media_root: Path) -> list[str]:
    if not media_root.exists():
        return []
    return sorted(str(p.relative_to(media_root)) for p in media_root.rglob("*") if p.is_file())


def stored_image(name: str) -> Image.Image:
    with default_storage.open(name) as f:
        return open_image(f.read())


def assert_near(pixel, expected, tolerance=40):
    assert all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=False)), (pixel, expected)


# --- avatars ---------------------------------------------------------------------------------


def test_avatar_is_reencoded_into_64_128_256_webp_squares(media_root):
    processed = process_avatar(jpeg((800, 600)))

    name = processed.save("avatars")

    assert name.startswith("avatars/")
    assert name.endswith("-256.webp")
    assert (processed.width, processed.height) == (256, 256)
    for size in (64, 128, 256):
        image = stored_image(rendition_of(name, size))
        assert image.format == "WEBP"
        assert image.size == (size, size)
    assert len(stored_files(media_root)) == 3


def test_gps_exif_is_removed_from_every_rendition():
    data = encode(Image.new("RGB", (640, 480), "green"), "JPEG", exif=gps_exif())
    source_exif = Image.open(io.BytesIO(data)).getexif()
    assert source_exif.get_ifd(GPS_IFD)[2] == (52.0, 31.0, 12.5)
    assert source_exif[0x010F] == "PhoneMaker"

    renditions = [
        *process_avatar(upload(data)).renditions.values(),
        *process_photo(upload(data)).renditions.values(),
    ]

    assert len(renditions) == 5  # avatar 64/128/256, photo 480/640
    for rendition in renditions:
        image = open_image(rendition)
        assert "exif" not in image.info
        assert len(image.getexif()) == 0
        assert len(image.getexif().get_ifd(GPS_IFD)) == 0
        assert set(webp_chunks(rendition)) <= IMAGE_CHUNKS
        assert b"PhoneMaker" not in rendition


def test_xmp_and_icc_metadata_are_not_copied():
    source = Image.new("RGB", (640, 480), "green")
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><exif:GPSLatitude>52,31.2N</exif:GPSLatitude></x:xmpmeta>'
    icc = b"\0" * 128  # content is irrelevant: it must simply not be carried over
    data = encode(source, "JPEG", xmp=xmp, icc_profile=icc)
    assert b"GPSLatitude" in data

    for rendition in process_photo(upload(data)).renditions.values():
        assert set(webp_chunks(rendition)) <= IMAGE_CHUNKS
        assert b"GPSLatitude" not in rendition
        assert "icc_profile" not in open_image(rendition).info


def test_exif_orientation_is_applied_before_metadata_is_dropped():
    exif = Image.Exif()
    exif[ORIENTATION] = ROTATE_90_CW
    data = encode(two_tone((300, 200)), "JPEG", exif=exif, quality=95)

    photo = process_photo(upload(data))
    avatar = process_avatar(upload(data))

    # Stored 300×200 with left red / right blue; displayed upright it is 200×300, red on top.
    assert (photo.width, photo.height) == (200, 300)
    upright = open_image(photo.renditions[200])
    assert upright.size == (200, 300)
    assert_near(upright.getpixel((100, 40)), (255, 0, 0))
    assert_near(upright.getpixel((100, 260)), (0, 0, 255))
    assert ORIENTATION not in upright.getexif()
    square = open_image(avatar.renditions[256])
    assert_near(square.getpixel((128, 10)), (255, 0, 0))
    assert_near(square.getpixel((128, 245)), (0, 0, 255))


# --- rejected uploads ------------------------------------------------------------------------

REJECTED = [
    pytest.param(
        "notes.jpg",
        b"Liveblog notes\nThis is plain text, not a picture.\n" * 20,
        "not_an_image",
        "This file is not an image we can read. Upload a JPEG, PNG, GIF or WebP.",
        id="text",
    ),
    pytest.param(
        "logo.svg",
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="10" height="10"/></svg>',
        "markup",
        "SVG and other markup files are not accepted. Upload a JPEG, PNG, GIF or WebP.",
        id="svg",
    ),
    pytest.param(
        "logo.png",
        b'\xef\xbb\xbf<?xml version="1.0"?>\n<!DOCTYPE svg>\n<svg xmlns="http://www.w3.org/2000/svg">'
        b"<script>alert(1)</script></svg>",
        "markup",
        "SVG and other markup files are not accepted. Upload a JPEG, PNG, GIF or WebP.",
        id="svg-with-bom-and-xml-prolog",
    ),
    pytest.param(
        "photo.jpg",
        b"<html><body><script>alert(1)</script></body></html>" + encode(Image.new("RGB", (8, 8)), "GIF"),
        "markup",
        "SVG and other markup files are not accepted. Upload a JPEG, PNG, GIF or WebP.",
        id="html-followed-by-gif",
    ),
    pytest.param(
        "scan.jpg",
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
        b"trailer << /Root 1 0 R >>\n%%EOF\n",
        "not_an_image",
        "This file is not an image we can read. Upload a JPEG, PNG, GIF or WebP.",
        id="pdf-renamed-jpg",
    ),
    pytest.param(
        "photo.jpg",
        encode(Image.new("RGB", (8, 8)), "BMP"),
        "format",
        "Images must be JPEG, PNG, GIF or WebP (this one is BMP).",
        id="bmp-renamed-jpg",
    ),
    pytest.param(
        "photo.jpg",
        encode(Image.new("RGB", (800, 600), "green"), "JPEG")[:2000],
        "damaged",
        "The image file is damaged and cannot be read.",
        id="truncated-jpeg",
    ),
    pytest.param(
        "bomb.png",
        png_claiming(50_000, 50_000),
        "bomb",
        "The image has too many pixels to be processed safely.",
        id="png-claiming-50000x50000",
    ),
    pytest.param(
        "big.png",
        png_claiming(8_000, 8_000),  # 64 MP: under Pillow's own limit, over MAX_IMAGE_PIXELS
        "bomb",
        "The image has too many pixels to be processed safely.",
        id="png-claiming-8000x8000",
    ),
    pytest.param(
        "huge.jpg",
        b"\xff\xd8\xff\xe0" + b"\0" * (10 * MB + 1 - 4),
        "too_large",
        "The file is 10.1 MB; images may be at most 10 MB.",
        id="10MB-plus-1-byte",
    ),
]


@pytest.mark.parametrize("process", [process_avatar, process_photo])
@pytest.mark.parametrize(("name", "data", "code", "message"), REJECTED)
def test_unacceptable_upload_is_rejected_with_a_clear_message_and_nothing_stored(
    media_root, process, name, data, code, message
):
    with pytest.raises(ValidationError) as excinfo:
        process(upload(data, name))

    assert excinfo.value.code == code
    with translation.override("en"):
        assert excinfo.value.messages == [message]
    assert stored_files(media_root) == []


def test_decompression_bomb_is_refused_from_the_header_without_decoding():
    data = png_claiming(50_000, 50_000)
    assert struct.unpack(">II", data[16:24]) == (50_000, 50_000)
    assert len(data) < 100

    # The pixel data is that of a 1×1 image: decoding it would fail as "damaged". "bomb" shows the
    # size was refused from the header, before any decoding was attempted.
    with pytest.raises(ValidationError) as excinfo:
        process_photo(upload(data, "bomb.png", "image/png"))
    assert excinfo.value.code == "bomb"


def test_pixel_limit_comes_from_settings(settings):
    settings.MAX_IMAGE_PIXELS = 100 * 100
    process_photo(jpeg((100, 100)))

    with pytest.raises(ValidationError) as excinfo:
        process_photo(jpeg((101, 100)))
    assert excinfo.value.code == "bomb"


def test_upload_of_exactly_the_size_limit_is_not_rejected_for_size(settings):
    settings.MAX_UPLOAD_BYTES = 2000
    data = encode(Image.new("RGB", (16, 16), "green"), "PNG")
    data += b"\0" * (2000 - len(data))  # trailing bytes after IEND; Pillow ignores them

    processed = process_photo(upload(data, "exact.png", "image/png"))

    assert list(processed.renditions) == [16]


def test_gif_html_polyglot_is_reencoded_without_any_html():
    data = gif_html_polyglot()
    assert data.startswith(b"GIF89a")
    assert b"<script>" in data

    processed = process_avatar(upload(data, "polyglot.gif", "image/gif"))

    # Accepted (it is a real GIF), but only its pixels make it into the output.
    assert sorted(processed.renditions) == [64, 128, 256]
    for rendition in processed.renditions.values():
        assert open_image(rendition).format == "WEBP"
        assert set(webp_chunks(rendition)) <= IMAGE_CHUNKS
        lowered = rendition.lower()
        assert b"<script" not in lowered
        assert b"<html" not in lowered
        assert b"alert(" not in lowered


# --- Author.replace_avatar -------------------------------------------------------------------


@pytest.mark.django_db
def test_replace_avatar_stores_new_renditions_and_deletes_the_old_ones(media_root):
    author = AuthorFactory()
    author.replace_avatar(process_avatar(jpeg(color="red")))
    old = author.avatar.name
    old_files = sorted(rendition_of(old, size) for size in (64, 128, 256))
    assert stored_files(media_root) == old_files

    author.replace_avatar(process_avatar(jpeg(color="blue")))

    author.refresh_from_db()
    new = author.avatar.name
    assert new != old
    assert stored_files(media_root) == sorted(rendition_of(new, size) for size in (64, 128, 256))
    assert_near(stored_image(new).getpixel((128, 128)), (0, 0, 255))


@pytest.mark.django_db
def test_avatar_url_points_at_the_rendition_of_each_size(settings):
    author = AuthorFactory()
    assert author.avatar_url(64) == ""

    author.replace_avatar(process_avatar(jpeg()))

    for size in (64, 128, 256):
        url = author.avatar_url(size)
        assert url == f"{settings.MEDIA_URL}{rendition_of(author.avatar.name, size)}"
        assert default_storage.exists(rendition_of(author.avatar.name, size))
    assert author.avatar_64 == author.avatar_url(64)
    assert author.avatar_256 == author.avatar_url(256)


@pytest.mark.django_db
def test_failed_processing_leaves_the_authors_avatar_unchanged(media_root):
    author = AuthorFactory()
    author.replace_avatar(process_avatar(jpeg()))
    before_name, before_files = author.avatar.name, stored_files(media_root)

    with pytest.raises(ValidationError):
        author.replace_avatar(process_avatar(upload(b"<svg onload=alert(1)>", "evil.svg")))

    author.refresh_from_db()
    assert author.avatar.name == before_name
    assert stored_files(media_root) == before_files


@pytest.mark.django_db
def test_replace_avatar_with_none_removes_avatar_and_files(media_root):
    author = AuthorFactory()
    author.replace_avatar(process_avatar(jpeg()))

    author.replace_avatar(None)

    author.refresh_from_db()
    assert not author.avatar
    assert author.avatar_url() == ""
    assert stored_files(media_root) == []


# --- photos ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((300, 200), {300: 200}),
        ((480, 320), {480: 320}),
        ((960, 640), {480: 320, 960: 640}),
        ((1000, 750), {480: 360, 960: 720, 1000: 750}),
        ((1600, 900), {480: 270, 960: 540, 1600: 900}),
        ((3000, 2000), {480: 320, 960: 640, 1600: 1067}),
        ((600, 1200), {480: 960, 600: 1200}),
    ],
)
def test_photo_renditions_are_never_upscaled(size, expected):
    processed = process_photo(jpeg(size))

    assert {width: open_image(data).size[1] for width, data in processed.renditions.items()} == expected
    for width, data in processed.renditions.items():
        image = open_image(data)
        assert image.format == "WEBP"
        assert image.size[0] == width
        assert image.size[0] <= size[0]
    largest = max(expected)
    assert (processed.width, processed.height) == (largest, expected[largest])


def test_very_wide_panorama_gets_renditions_at_least_one_pixel_high():
    processed = process_photo(upload(encode(Image.new("RGB", (10_000, 4), "green"), "PNG"), "pano.png"))

    assert sorted(processed.renditions) == list(PHOTO_WIDTHS)
    for width, data in processed.renditions.items():
        assert open_image(data).size == (width, 1)
    assert (processed.width, processed.height) == (1600, 1)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("source_width", "widths"), [(300, [300]), (1000, [480, 960, 1000]), (2400, [480, 960, 1600])]
)
def test_post_srcset_lists_each_stored_rendition_with_its_real_width(source_width, widths):
    processed = process_photo(jpeg((source_width, source_width // 2)))
    post = PostFactory(
        image=processed.save("posts"),
        image_width=processed.width,
        image_height=processed.height,
        image_alt="Wahlplakate am Straßenrand",
    )

    entries = [entry.rsplit(" ", 1) for entry in post.image_srcset.split(", ")]

    assert [int(descriptor.removesuffix("w")) for _url, descriptor in entries] == widths
    for url, descriptor in entries:
        name = url.removeprefix(post.image.storage.base_url)
        assert stored_image(name).size[0] == int(descriptor.removesuffix("w"))


def test_delete_renditions_removes_every_stored_rendition_of_a_photo(media_root):
    # 1000 px wide: renditions at 480, 960 and 1000 – the last is in no list of sizes.
    name = process_photo(jpeg((1000, 500))).save("posts")
    assert name.endswith("-1000.webp")
    assert len(stored_files(media_root)) == 3

    delete_renditions(name, PHOTO_WIDTHS)

    assert stored_files(media_root) == []


def test_rgba_photo_keeps_its_transparency():
    source = Image.new("RGBA", (600, 400), (255, 0, 0, 255))
    source.paste((0, 0, 0, 0), (300, 0, 600, 400))

    processed = process_photo(upload(encode(source, "PNG"), "alpha.png", "image/png"))

    for data in processed.renditions.values():
        image = open_image(data)
        assert image.mode == "RGBA"
        width, height = image.size
        assert image.getpixel((width // 4, height // 2))[3] == 255
        assert image.getpixel((3 * width // 4, height // 2))[3] == 0


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_palette_image_with_transparency_becomes_rgba(fmt):
    source = Image.new("P", (600, 400), 1)
    source.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255])
    source.paste(0, (300, 0, 600, 400))

    processed = process_photo(upload(encode(source, fmt, transparency=0), f"palette.{fmt.lower()}"))

    image = open_image(processed.renditions[480])
    assert image.mode == "RGBA"
    assert_near(image.getpixel((100, 160)), (255, 0, 0, 255))
    assert image.getpixel((400, 160))[3] == 0


def test_palette_image_without_transparency_becomes_rgb():
    source = Image.new("P", (600, 400), 2)
    source.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255])

    processed = process_photo(upload(encode(source, "PNG"), "palette.png", "image/png"))

    image = open_image(processed.renditions[600])
    assert image.mode == "RGB"
    assert_near(image.getpixel((300, 200)), (0, 0, 255))


def test_cmyk_jpeg_is_converted_to_rgb_with_its_colours():
    red_in_cmyk = (0, 255, 255, 0)
    data = encode(Image.new("CMYK", (600, 400), red_in_cmyk), "JPEG", quality=95)
    assert open_image(data).mode == "CMYK"

    processed = process_photo(upload(data))

    for data in processed.renditions.values():
        image = open_image(data)
        assert image.mode == "RGB"
        assert_near(image.getpixel((10, 10)), (255, 0, 0))


@pytest.mark.parametrize(
    ("mode", "value", "expected"),
    [("L", 128, (128, 128, 128)), ("LA", (128, 255), (128, 128, 128, 255)), ("1", 1, (255, 255, 255))],
)
def test_greyscale_and_bilevel_images_are_handled(mode, value, expected):
    data = encode(Image.new(mode, (200, 100), value), "PNG")

    image = open_image(process_photo(upload(data, "grey.png", "image/png")).renditions[200])

    assert_near(image.getpixel((100, 50)), expected, tolerance=4)


def test_16_bit_greyscale_png_is_scaled_not_clipped_to_white():
    data = encode(Image.new("I;16", (200, 100), 40_000), "PNG")
    assert open_image(data).mode == "I;16"

    image = open_image(process_photo(upload(data, "scan.png", "image/png")).renditions[200])

    assert_near(image.getpixel((100, 50)), (156, 156, 156), tolerance=4)  # 40000 / 256


def test_animated_gif_keeps_its_first_frame():
    frames = [Image.new("RGB", (100, 100), color) for color in ("red", "blue", "green")]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)

    processed = process_photo(upload(data, "anim.gif", "image/gif"))

    image = open_image(processed.renditions[100])
    assert getattr(image, "n_frames", 1) == 1
    assert_near(image.getpixel((50, 50)), (255, 0, 0))
