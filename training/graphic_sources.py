"""Render graphics the shared datasets lack — flags, logos, maps, UI screenshots, manual pages — as
separate labelled sources for the `kind` head, each written to a folder outside the repository.

The shared `non_photo` sources are charts, paper figures, coats of arms, document pages and
receipts; what users will also meet (maps, logos, flags, screenshots) is missing, and the noise
probe showed that a graphic unlike anything in training is caught only a quarter of the time. So
each family below is its own *source*: leaving it out of training measures how the kind head does
on a family of graphics it has never seen. Inputs come from package registries, never committed:

- `flags`: flag-icons (npm, MIT), 4×3 and 1×1 SVG flags of ~270 countries and regions.
- `logos`: simple-icons (npm, CC0-1.0), ~3,400 brand logos, drawn in a brand-like colour, with or
  without the brand's name beside them.
- `maps`: @svg-maps/* (npm, CC-BY-4.0: world, germany, canada, brazil, japan, china, india,
  australia, italy, spain, mexico, netherlands), regions filled as a choropleth, a political map or
  one highlighted region, zoomed and framed at random.
- `screenshots`: Qt widgets (PySide6, already a dependency) — forms, tables, lists, text editors,
  trees — filled with random words and grabbed offscreen.
- `manual_pages`: pages of PDF manuals shipped by Debian packages (libtasn1-doc, shared-mime-info,
  gnuplot-doc, asymptote-doc: GPL/LGPL/GFDL documentation), rendered with ghostscript.

Usage (writes OUT/<source>/*.png and OUT/manifest.csv with kind `non_photo`):

    python -m training.graphic_sources --npm DIR_WITH_UNPACKED_PACKAGES --pdf A.pdf --pdf B.pdf --out DIR
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PIL import Image
from PySide6 import QtCore, QtGui, QtSvg, QtWidgets

WORDS = [
    "file",
    "edit",
    "view",
    "settings",
    "account",
    "total",
    "amount",
    "name",
    "date",
    "status",
    "value",
    "report",
    "export",
    "import",
    "project",
    "user",
    "item",
    "order",
    "price",
    "quantity",
    "search",
    "filter",
    "open",
    "save",
    "cancel",
    "apply",
    "help",
    "tools",
    "window",
    "network",
    "display",
    "language",
    "region",
    "update",
    "version",
    "build",
    "server",
    "client",
    "address",
    "email",
    "phone",
    "city",
]

Render = Callable[[random.Random], QtGui.QImage]


def qt_app() -> QtWidgets.QApplication:
    """The process's Qt application (offscreen), made on first use: renders need one."""
    app = QtWidgets.QApplication.instance()
    return app if isinstance(app, QtWidgets.QApplication) else QtWidgets.QApplication([])


def _random_colour(rng: random.Random, light: bool = False) -> QtGui.QColor:
    colour = QtGui.QColor.fromHsv(rng.randrange(360), rng.randrange(40, 200), rng.randrange(120, 256))
    return colour.lighter(150) if light else colour


def _canvas(width: int, height: int, colour: QtGui.QColor) -> QtGui.QImage:
    image = QtGui.QImage(width, height, QtGui.QImage.Format.Format_RGB32)
    image.fill(colour)
    return image


def _svg_render(
    data: bytes, width: int, height: int, background: QtGui.QColor, margin: float
) -> QtGui.QImage:
    renderer = QtSvg.QSvgRenderer(QtCore.QByteArray(data))
    image = _canvas(width, height, background)
    painter = QtGui.QPainter(image)
    painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
    box = renderer.viewBoxF()
    scale = min(width * (1 - 2 * margin) / box.width(), height * (1 - 2 * margin) / box.height())
    w, h = box.width() * scale, box.height() * scale
    renderer.render(painter, QtCore.QRectF((width - w) / 2, (height - h) / 2, w, h))
    painter.end()
    return image


def flags(npm: Path, count: int) -> Iterator[Render]:
    files = sorted((npm / "flag-icons-7.5.0/package/flags").rglob("*.svg"))
    for i in range(count):
        svg = files[i % len(files)].read_bytes()

        def render(rng: random.Random, svg: bytes = svg) -> QtGui.QImage:
            width = rng.randrange(160, 400)
            height = int(width * rng.choice((0.5, 0.6, 0.67, 0.75, 1.0)))
            background = QtGui.QColor("white") if rng.random() < 0.7 else _random_colour(rng, light=True)
            return _svg_render(svg, width, height, background, rng.choice((0.0, 0.0, 0.05, 0.15)))

        yield render


def logos(npm: Path, count: int) -> Iterator[Render]:
    files = sorted((npm / "simple-icons-16.37.0/package/icons").glob("*.svg"))
    picked = random.Random(1).sample(files, min(count, len(files)))
    for file in picked:
        name = file.stem.replace("dot", ".").title()

        def render(rng: random.Random, file: Path = file, name: str = name) -> QtGui.QImage:
            colour = _random_colour(rng)
            svg = file.read_text(encoding="utf-8").replace("<path ", f'<path fill="{colour.name()}" ', 1)
            dark = rng.random() < 0.25
            background = QtGui.QColor("#202124") if dark else QtGui.QColor("white")
            size = rng.randrange(160, 320)
            with_text = rng.random() < 0.5
            width = int(size * (2.5 if with_text else 1))
            image = _canvas(width, size, background)
            icon = _svg_render(svg.encode(), size, size, background, 0.15)
            painter = QtGui.QPainter(image)
            painter.drawImage(0, 0, icon)
            if with_text:
                font = QtGui.QFont("DejaVu Sans", max(10, size // 5))
                font.setBold(rng.random() < 0.6)
                painter.setFont(font)
                painter.setPen(QtGui.QColor("white") if dark else colour.darker(130))
                painter.drawText(
                    QtCore.QRectF(size, 0, width - size, size), QtCore.Qt.AlignmentFlag.AlignVCenter, name
                )
            painter.end()
            return image

        yield render


_PATH = re.compile(r'"path":"([^"]+)"')
_VIEWBOX = re.compile(r'"viewBox":"([^"]+)"')


def _map_regions(index_js: Path) -> tuple[str, list[str]]:
    text = index_js.read_text(encoding="utf-8")
    box = _VIEWBOX.search(text)
    return (box.group(1) if box else "0 0 1000 1000"), _PATH.findall(text)


def maps(npm: Path, count: int) -> Iterator[Render]:
    sets = [_map_regions(p) for p in sorted(npm.glob("svg-maps-*/package/index.js"))]
    for i in range(count):
        view_box, regions = sets[i % len(sets)]

        def render(
            rng: random.Random, view_box: str = view_box, regions: list[str] = regions
        ) -> QtGui.QImage:
            style = rng.choice(("choropleth", "political", "highlight"))
            ramp = _random_colour(rng)
            border = rng.choice(("#ffffff", "#555555", "#222222", "#999999"))
            paths = []
            target = rng.randrange(len(regions))
            for j, path in enumerate(regions):
                if style == "choropleth":
                    fill = ramp.lighter(100 + rng.randrange(0, 120)).name()
                elif style == "political":
                    fill = _random_colour(rng, light=True).name()
                else:
                    fill = ramp.name() if j == target else "#dddddd"
                paths.append(f'<path d="{path}" fill="{fill}" stroke="{border}" stroke-width="0.5"/>')
            x, y, w, h = (float(v) for v in view_box.split())
            zoom = rng.choice((1.0, 1.0, 0.6, 0.4))
            zx, zy = x + rng.random() * w * (1 - zoom), y + rng.random() * h * (1 - zoom)
            svg = (
                f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{zx} {zy} {w * zoom} {h * zoom}">'
                + "".join(paths)
                + "</svg>"
            )
            sea = rng.choice(("#ffffff", "#aad3df", "#cfe8f3", "#f2efe9"))
            width = rng.randrange(200, 420)
            height = int(width * rng.uniform(0.6, 1.1))
            return _svg_render(svg.encode(), width, height, QtGui.QColor(sea), rng.choice((0.0, 0.03, 0.08)))

        yield render


def _fill_widget(rng: random.Random) -> QtWidgets.QWidget:
    def words(n: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize()

    kind = rng.choice(("form", "table", "list", "text", "tree"))
    window = QtWidgets.QWidget()
    layout = QtWidgets.QVBoxLayout(window)
    if kind == "form":
        form = QtWidgets.QFormLayout()
        for _ in range(rng.randrange(3, 8)):
            field: QtWidgets.QWidget = rng.choice(
                (QtWidgets.QLineEdit(words(2)), QtWidgets.QSpinBox(), QtWidgets.QCheckBox(words(2)))
            )
            form.addRow(words(1) + ":", field)
        layout.addLayout(form)
    elif kind == "table":
        table = QtWidgets.QTableWidget(rng.randrange(5, 15), rng.randrange(2, 6))
        for r in range(table.rowCount()):
            for c in range(table.columnCount()):
                text = words(1) if c == 0 else f"{rng.uniform(0, 1000):.2f}"
                table.setItem(r, c, QtWidgets.QTableWidgetItem(text))
        layout.addWidget(table)
    elif kind == "list":
        items = QtWidgets.QListWidget()
        items.addItems([words(rng.randrange(1, 4)) for _ in range(rng.randrange(5, 20))])
        layout.addWidget(items)
    elif kind == "text":
        edit = QtWidgets.QPlainTextEdit("\n".join(words(rng.randrange(3, 10)) for _ in range(30)))
        layout.addWidget(edit)
    else:
        tree = QtWidgets.QTreeWidget()
        tree.setHeaderLabels([words(1), words(1)])
        for _ in range(rng.randrange(3, 8)):
            parent = QtWidgets.QTreeWidgetItem([words(1), str(rng.randrange(100))])
            parent.addChildren(
                [QtWidgets.QTreeWidgetItem([words(2), ""]) for _ in range(rng.randrange(0, 4))]
            )
            tree.addTopLevelItem(parent)
        tree.expandAll()
        layout.addWidget(tree)
    buttons = QtWidgets.QHBoxLayout()
    for _ in range(rng.randrange(1, 4)):
        buttons.addWidget(QtWidgets.QPushButton(words(1)))
    layout.addLayout(buttons)
    return window


def screenshots(count: int) -> Iterator[Render]:
    for _ in range(count):

        def render(rng: random.Random) -> QtGui.QImage:
            widget = _fill_widget(rng)
            widget.resize(rng.randrange(280, 640), rng.randrange(200, 480))
            widget.show()
            image = widget.grab().toImage()
            widget.close()
            widget.deleteLater()
            return image

        yield render


def manual_pages(pdfs: list[Path], out: Path, dpi: int = 40) -> list[Path]:
    """Every page of each PDF as a PNG, by ghostscript (gs), `dpi` chosen for ≤ 400-px pages."""
    written: list[Path] = []
    for pdf in pdfs:
        pattern = out / f"{pdf.stem}-%04d.png"
        subprocess.run(
            [
                "gs",
                "-q",
                "-dNOPAUSE",
                "-dBATCH",
                "-dSAFER",
                "-sDEVICE=png16m",
                f"-r{dpi}",
                f"-sOutputFile={pattern}",
                str(pdf),
            ],
            check=True,
        )
        written += sorted(out.glob(f"{pdf.stem}-*.png"))
    return written


def _save(image: QtGui.QImage, target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "x.png"
        image.save(str(raw))
        Image.open(raw).convert("RGB").save(target)


def generate(npm: Path, pdfs: list[Path], out: Path, per_source: int, seed: int = 0) -> Path:
    qt_app()
    rows: list[dict[str, str]] = []
    families: dict[str, Iterator[Render]] = {
        "flags": flags(npm, per_source),
        "logos": logos(npm, per_source),
        "maps": maps(npm, per_source),
        "screenshots": screenshots(per_source),
    }
    for source, renders in families.items():
        folder = out / source
        folder.mkdir(parents=True, exist_ok=True)
        rng = random.Random(f"{seed}/{source}")
        for i, render in enumerate(renders):
            target = folder / f"{source}-{i:04d}.png"
            _save(render(rng), target)
            rows.append({"path": str(target), "source": f"graphic/{source}"})
    pages = out / "manual_pages"
    pages.mkdir(parents=True, exist_ok=True)
    for page in manual_pages(pdfs, pages):
        rows.append({"path": str(page), "source": "graphic/manual_pages"})
    return write_graphics_manifest(out / "manifest.csv", rows)


def write_graphics_manifest(manifest: Path, rows: list[dict[str, str]]) -> Path:
    """A manifest `sorter-train features` reads: each row's path and source, kind `non_photo`."""
    with manifest.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, ["path", "source", "scene", "room", "kind"])
        writer.writeheader()
        writer.writerows({**row, "scene": "", "room": "", "kind": "non_photo"} for row in rows)
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--npm", type=Path, required=True, help="folder with the unpacked npm packages")
    parser.add_argument("--pdf", type=Path, action="append", default=[])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--per-source", type=int, default=300)
    args = parser.parse_args()
    print(generate(args.npm, args.pdf, args.out, args.per_source))


if __name__ == "__main__":
    main()
