"""Draw the app icon into resources/icons/: PNGs at 256/128/64/48 px and the same picture as SVG.

The icon is a dark rounded square holding a 3x3 grid of photo tiles whose colours are sorted
(warm, green, blue rows; light to dark columns): "a pile of photos, put in order". It is drawn
from one list of shapes, so the PNGs and the SVG cannot drift apart. The PNGs are rendered once at
1024 px and scaled down, which antialiases the rounded corners without a vector renderer.

Run `.venv/bin/python packaging/draw_icons.py` after changing the design, and commit the output.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"
NAME = "image-sorter"
SIZES = (256, 128, 64, 48)
CANVAS = 1024  # design units; every shape below is in these units

BACKGROUND = "#263447"
ROWS = (  # one hue family per row, lightest first: the tiles are "sorted"
    ("#ffb36b", "#f2784b", "#c8453a"),
    ("#a8e07f", "#5cb85c", "#2e8a57"),
    ("#8fd3ff", "#4a9be8", "#3a5fcf"),
)


def shapes() -> list[tuple[tuple[int, int, int, int], int, str]]:
    """(box, corner radius, colour) for the background and each tile, in drawing order."""
    margin, radius = 48, 200
    out = [((margin, margin, CANVAS - margin, CANVAS - margin), radius, BACKGROUND)]
    inset, gap = 200, 40
    tile = (CANVAS - 2 * inset - 2 * gap) // 3
    for row, colours in enumerate(ROWS):
        for col, colour in enumerate(colours):
            x, y = inset + col * (tile + gap), inset + row * (tile + gap)
            out.append(((x, y, x + tile, y + tile), 36, colour))
    return out


def render_png(size: int) -> Image.Image:
    big = Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 0))
    draw = ImageDraw.Draw(big)
    for box, radius, colour in shapes():
        draw.rounded_rectangle(box, radius=radius, fill=colour)
    return big.resize((size, size), Image.Resampling.LANCZOS)


def render_svg() -> str:
    rects = [
        f'  <rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" rx="{r}" fill="{colour}"/>'
        for (x0, y0, x1, y1), r, colour in shapes()
    ]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 {CANVAS} {CANVAS}">\n'
        + "\n".join(rects)
        + "\n</svg>\n"
    )


def main() -> None:
    ICONS.mkdir(parents=True, exist_ok=True)
    for size in SIZES:
        render_png(size).save(ICONS / f"{NAME}-{size}.png", optimize=True)
    (ICONS / f"{NAME}.svg").write_text(render_svg(), encoding="utf-8")
    print(f"wrote {len(SIZES)} PNGs and an SVG to {ICONS}")


if __name__ == "__main__":
    main()
