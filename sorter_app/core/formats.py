"""Which files look like images, which decoders we trust with them, and why a file cannot be used.

A folder of phone and camera photos holds HEIC, AVIF, RAW and JPEG XL files next to JPEGs. Each
extension here belongs to a family; a family either decodes with Pillow's own plugins, or needs an
optional package (pillow-heif, rawpy, pillow-jxl-plugin) that is registered here once. A file whose
family's package is missing gets a reason that says so ("HEIC/HEIF support not installed"), never
silence, and such a reason is worth retrying once the package is there (`retry_rule`).
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Support:
    """An optional package that teaches Pillow (or us) a format."""

    label: str  # what users call the format
    module: str  # what to import

    @property
    def missing_reason(self) -> str:
        package = self.module.split(".")[0].replace("_", "-")
        return f"{self.label} support not installed (the {package} package)"


HEIF = Support("HEIC/HEIF", "pillow_heif")
RAW = Support("camera RAW", "rawpy")
JXL = Support("JPEG XL", "pillow_jxl")

# Decoders trusted with untrusted input: Pillow's plugins that parse the format themselves or
# through a fuzzed library. Pillow knows more (EPS and PDF run Ghostscript, and so on), and
# identifies files by content, so this list is what Image.open may try at all.
PILLOW_FORMATS = (
    "JPEG",  # also MPO: the JPEG plugin hands multi-picture files to it
    "PNG",
    "GIF",
    "BMP",
    "DIB",
    "TIFF",
    "WEBP",
    "AVIF",
    "JPEG2000",
    "TGA",
    "PPM",
    "ICO",
    "PSD",
    "PCX",
    "QOI",
    "SGI",
    "ICNS",
)
_PLUGIN_FORMATS = {HEIF: "HEIF", JXL: "JXL"}

RAW_EXTENSIONS = frozenset(
    {
        ".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".raf", ".rw2",
        ".rwl", ".orf", ".pef", ".srw", ".3fr", ".iiq", ".erf", ".mrw", ".kdc", ".dcr", ".x3f",
    }
)  # fmt: skip
_EXTENSION_SUPPORT = {
    **dict.fromkeys((".heic", ".heif", ".hif"), HEIF),
    ".jxl": JXL,
    **dict.fromkeys(RAW_EXTENSIONS, RAW),
}
# Extensions the scanner treats as "looks like an image": a file with one of these that cannot be
# used is listed with its reason; any other file is ignored.
IMAGE_EXTENSIONS = frozenset(
    {
        ".jpg", ".jpeg", ".jpe", ".jfif", ".mpo", ".png", ".apng", ".gif", ".bmp", ".dib",
        ".tif", ".tiff", ".webp", ".avif", ".jp2", ".j2k", ".jpf", ".jpx", ".j2c", ".tga",
        ".ppm", ".pgm", ".pbm", ".pnm", ".ico", ".psd", ".pcx", ".qoi", ".sgi", ".icns",
        *_EXTENSION_SUPPORT,
    }
)  # fmt: skip


def extension(name: str | os.PathLike[str]) -> str:
    return os.path.splitext(name)[1].lower()


def is_image_name(name: str) -> bool:
    """Called for every file of every folder walk: kept to string operations, no path parsing."""
    dot = name.rfind(".")
    return dot > 0 and "/" not in name[dot:] and name[dot:].lower() in IMAGE_EXTENSIONS


def is_raw_name(name: str | os.PathLike[str]) -> bool:
    return extension(name) in RAW_EXTENSIONS


@functools.cache
def installed(support: Support) -> bool:
    """Whether `support`'s package imports here; HEIF and JPEG XL get registered with Pillow."""
    try:
        module = importlib.import_module(support.module)
    except Exception:  # a broken install is as good as none, and must not stop a run
        return False
    if support is HEIF:
        # One decode thread per file: indexing decodes several files at once already. The
        # plugin's draft() picks an embedded thumbnail when it is big enough, as JPEG draft does.
        module.register_heif_opener(decode_threads=1)
    elif support is JXL:
        from pillow_jxl import JpegXLImagePlugin

        JpegXLImagePlugin.DECODE_THREADS = 0  # 0: no thread pool of its own
    return True


def import_optional() -> None:
    """Import every optional decoder package now, rather than when the first file needs it: a
    window imports them before it shows, because an extension module's import holds the GIL
    throughout (and PySide's import hook reads the importing module's source), which stalled the
    window's thread when the first folder's indexing imported them in a worker."""
    for support in (HEIF, RAW, JXL):
        installed(support)


def pillow_formats() -> tuple[str, ...]:
    """What `Image.open` may try: Pillow's trusted plugins plus the optional ones installed."""
    return PILLOW_FORMATS + tuple(fmt for s, fmt in _PLUGIN_FORMATS.items() if installed(s))


def support_for(name: str) -> Support | None:
    """The optional package a file of this name needs, if any."""
    return _EXTENSION_SUPPORT.get(extension(name))


def sniffed_support(head: bytes) -> Support | None:
    """The optional package a file's first bytes call for: phones also save HEIC named `.jpg`."""
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return HEIF
    if head[:2] == b"\xff\x0a" or head[4:12] == b"JXL \r\n\x87\n":
        return JXL
    return None


_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})


def missing_support_reason(name: str, head: bytes) -> str | None:
    """ "HEIC/HEIF support not installed …" when that is why a file cannot be opened, else None."""
    for support in (sniffed_support(head), support_for(name)):
        if support is not None and not installed(support):
            return support.missing_reason
    return None


def retry_rule() -> Callable[[str], bool]:
    """Whether a stored skip reason is worth reading the (unchanged) file again for.

    Only a skip whose cause was outside the file is: a support package since installed, or a read
    that failed (permissions, I/O). Every other skip is remembered with the file's size and mtime
    and not read again until those change: re-opening a folder of 200,000 broken files costs the
    stat walk only. Built once per run, then asked once per skipped file.
    """
    now_installed = frozenset(s.missing_reason for s in (HEIF, RAW, JXL) if installed(s))
    return lambda reason: reason in now_installed or reason.startswith("cannot read:")
