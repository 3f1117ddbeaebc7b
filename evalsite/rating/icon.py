"""The site's /favicon.ico, drawn here (no file to download or ship): a play button in the
participant pages' accent colour."""

import functools
import io

from PIL import Image, ImageDraw

ACCENT = "#1f5fbf"  # rating.css --accent


@functools.cache
def favicon_ico(size: int = 32) -> bytes:
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, size - 1, size - 1), radius=size // 5, fill=ACCENT)
    third = size // 3
    draw.polygon([(third + 1, third - 2), (third + 1, size - third + 2), (size - third + 3, size // 2)],
                 fill="white")
    buffer = io.BytesIO()
    image.save(buffer, format="ICO", sizes=[(size, size)])
    return buffer.getvalue()
