"""What the camera wrote about a photo — when it was taken, with what, at what exposure — read from
its EXIF, for the detail pane (as digiKam and Bridge show it) and the keeper's "camera EXIF" rule.

Only the header is read (Pillow parses EXIF without decoding pixels). EXIF is whatever the file
says: a hostile or damaged block gives fewer facts, never an exception, and every value shown is
cut to a line.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PIL import Image

from .scan import open_regular

MAKE, MODEL = 0x010F, 0x0110
_EXIF_IFD = 0x8769
_TAKEN = (0x9003, 0x9004)  # DateTimeOriginal, else DateTimeDigitized (not DateTime: last edited)
_EXPOSURE_TIME, _F_NUMBER, _ISO, _FOCAL_LENGTH, _LENS_MODEL = 0x829A, 0x829D, 0x8827, 0x920A, 0xA434
_MAX_TEXT = 80
_STAMP = re.compile(r"(\d{4}):(\d\d):(\d\d) (\d\d):(\d\d)")


def camera_name(exif: Mapping[int, Any]) -> str | None:
    """ "Make Model", without the make twice ("Canon Canon EOS 5D" → "Canon EOS 5D")."""
    make, model = (_text(exif.get(tag)) for tag in (MAKE, MODEL))
    if make and model and model.lower().startswith(make.split()[0].lower()):
        return model
    return " ".join(part for part in (make, model) if part) or None


def camera_facts(path: Path) -> dict[str, str]:
    """{"Taken", "Camera", "Lens", "Exposure"} as far as the file's EXIF says them; {} without EXIF."""
    try:
        with warnings.catch_warnings():  # Pillow parses EXIF lazily, as it is read: all of it in here
            warnings.simplefilter("ignore")
            with open_regular(path) as fh, Image.open(fh) as img:  # not a pipe swapped in since
                exif = img.getexif()
                details = dict(exif.get_ifd(_EXIF_IFD))
                facts = {
                    "Taken": next(filter(None, (_date(details.get(tag)) for tag in _TAKEN)), None),
                    "Camera": camera_name(exif),
                    "Lens": _text(details.get(_LENS_MODEL)),
                    "Exposure": exposure(details),
                }
    except Exception:  # not an image Pillow opens (RAW), or EXIF too damaged to read: no facts
        return {}
    return {name: value for name, value in facts.items() if value}


def exposure(details: Mapping[int, Any]) -> str | None:
    """ "f/2.8 · 1/125 s · ISO 200 · 35 mm", with whichever of them the EXIF has."""
    aperture, shutter = _number(details.get(_F_NUMBER)), _number(details.get(_EXPOSURE_TIME))
    iso, focal = details.get(_ISO), _number(details.get(_FOCAL_LENGTH))
    if isinstance(iso, tuple):  # ISOSpeedRatings may list several
        iso = iso[0] if iso else None
    parts = [
        f"f/{_short(aperture)}" if aperture and 0.5 <= aperture <= 128 else None,
        _shutter(shutter) if shutter and 1e-5 <= shutter <= 3600 else None,
        f"ISO {iso}" if isinstance(iso, int) and 0 < iso < 10**7 else None,
        f"{_short(focal)} mm" if focal and 1 <= focal <= 5000 else None,
    ]
    return " · ".join(p for p in parts if p) or None


def _short(number: float) -> str:
    """2.8, 4.25, 35, 600: three significant digits, never "6e+02"."""
    return f"{number:.3g}" if number < 100 else f"{number:.0f}"


def _shutter(seconds: float) -> str:
    """1/125 s as a camera says it; 0.4 s and 2 s as seconds (1/2.5 is not a shutter speed)."""
    per_second = 1 / seconds
    if seconds < 0.5 and abs(per_second - round(per_second)) <= 0.02 * per_second:
        return f"1/{round(per_second)} s"
    return f"{seconds:.2g} s" if seconds < 10 else f"{seconds:.0f} s"


def _number(value: Any) -> float | None:
    """An EXIF rational or number as a float; None for 0/0, infinities and anything else."""
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None


def _date(value: Any) -> str | None:
    """ "2019:07:14 18:03:22" → "2019-07-14 18:03"; None for a blank, unset or malformed stamp."""
    found = _STAMP.match(value) if isinstance(value, str) else None
    if found is None:
        return None
    year, month, day, hour, minute = (int(part) for part in found.groups())
    if not (year >= 1800 and 1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60):
        return None
    return f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}"


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    text = " ".join("".join(c if c.isprintable() else " " for c in value).split())
    if not text:
        return None
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"
