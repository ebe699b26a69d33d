"""Pictures the demo draws itself (avatars, a chart), so the repository ships no image files."""

import io

from PIL import Image, ImageDraw, ImageFont


def font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, ImportError):  # Pillow without FreeType: small bitmap font
        return ImageFont.load_default()


def png(image: Image.Image) -> io.BytesIO:
    out = io.BytesIO()
    image.save(out, format="PNG")
    out.seek(0)
    return out


def avatar_png(initials: str, color: tuple[int, int, int]) -> io.BytesIO:
    """A 512×512 PNG: a colored disc with white initials on a light background."""
    image = Image.new("RGB", (512, 512), (238, 238, 232))
    draw = ImageDraw.Draw(image)
    draw.ellipse((16, 16, 496, 496), fill=color)
    draw.text((256, 256), initials, fill="white", font=font(200), anchor="mm")
    return png(image)


def chart_png(width: int = 1200, height: int = 800) -> io.BytesIO:
    """An abstract bar chart on a blue gradient, labelled "Demo"."""
    top = Image.new("RGB", (width, height), (14, 30, 70))
    bottom = Image.new("RGB", (width, height), (40, 120, 150))
    mask = Image.linear_gradient("L").resize((width, height))
    image = Image.composite(bottom, top, mask)
    draw = ImageDraw.Draw(image)
    bars = [
        (33.1, (30, 30, 30)),
        (24.4, (200, 40, 50)),
        (15.2, (60, 160, 70)),
        (9.3, (90, 130, 220)),
        (4.9, (240, 200, 40)),
    ]
    base, left, bar_w, gap = height - 100, 150, 140, 50
    for index, (value, color) in enumerate(bars):
        x = left + index * (bar_w + gap)
        draw.rectangle((x, base - value * 14, x + bar_w, base), fill=color, outline="white", width=3)
    draw.line((100, base, width - 100, base), fill="white", width=4)
    draw.text((width - 110, 90), "Demo", fill="white", font=font(150), anchor="ra")
    return png(image)
