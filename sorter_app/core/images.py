"""Turn untrusted bytes into an RGB image, or into a one-line reason why not.

Everything a folder of real photos throws at us is handled here, in this order, so that no pixel
or metadata is decoded before the size is known to be safe: the file's size is capped; only
trusted decoders may open it (formats.py); the header's claimed size must be one the file can
hold and one we can afford (JPEGs and HEIC thumbnails are scaled down first); then the pixels are
decoded, and only then is EXIF orientation read and applied. CMYK, 16-bit, float, palette, alpha
and animated images all come out as plain 8-bit RGB. Any exception any decoder raises for one
file becomes that file's reason (`ImageError`); nothing else escapes.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import struct
from dataclasses import dataclass
from typing import IO

import numpy as np
from PIL import Image, ImageFile, PngImagePlugin, UnidentifiedImageError

from . import jpeg_segments, png_chunks
from .errors import ImageError
from .formats import IMAGE_EXTENSIONS, is_raw_name, missing_support_reason, pillow_formats
from .icon_sizes import ICON_MAGICS, PNG_MAGIC, embedded_png_sizes
from .png_checksums import without_bad_ancillary_chunks
from .scan import open_regular
from .zero_fill import zero_filled, zeros_before_jpeg_scan

__all__ = ["IMAGE_EXTENSIONS", "MAX_DECODED_PIXELS", "MAX_FILE_BYTES", "LoadedImage", "load_image"]

# Largest file we read at all. Camera RAW files reach ~150 MB and layered TIFF scans a few hundred;
# a bigger file named like an image is a disk image, a video or an attack, and hashing it alone
# would cost seconds.
MAX_FILE_BYTES = 512 * 1024 * 1024

# Most pixels we agree to decode (after JPEG draft scaling): 120 MP is ~360 MB of RGB. Larger
# images are decompression bombs or panoramas too big to decode safely in several workers at once.
MAX_DECODED_PIXELS = 120_000_000

# Above this many decoded pixels an image is shrunk (Image.reduce, a box filter) before its colour
# conversions, which would otherwise each cost another full-size copy.
_REDUCE_ABOVE_PIXELS = 16_000_000

# How many pixels one byte of compressed data can stand for, at most, in a real file: a JPEG needs
# about a bit per 8×8 block even for a flat image (2048 leaves 4× headroom); deflate cannot
# compress more than 1032:1 (PNG, 1-bit pixels: ~8,300 px per byte); GIF's LZW ~2,700. A header
# claiming more is forged or the data is missing, and decoding it would allocate the claimed size
# for nothing. WebP, TIFF (CCITT fax) and others can legitimately compress a blank page further.
# An uncompressed BMP stores at least a bit per pixel. A camera's sensor data is never flat (it
# carries the sensor's noise): lossless RAW codecs spend a few bits per pixel, lossy DNG (JPEG of
# the sensor data) more than a quarter; 64 pixels per byte is an eighth of a bit. A 3-KB lossless
# JPEG strip under a DNG header claiming 10000 × 10000 was decoded by LibRaw as a picture of noise.
_MAX_PIXELS_PER_BYTE = {"JPEG": 2048, "MPO": 2048, "PNG": 10_000, "GIF": 4096, "BMP": 8, "DIB": 8, "RAW": 64}
# A run-length BMP can skip any number of pixels in a few bytes, so its size says nothing; but
# Pillow decodes it in Python, ~5 MP a second (a header claiming 8388624 × 8 in 1 KB took 14 s).
_RLE_BMP_MAX_PIXELS = 16_000_000
_BMP_RLE = (1, 2)
_SMALL_FILE_BYTES = 1 << 20  # a header in a file this small asking for gigabytes is forged
_PNG_PALETTE = 3  # IHDR colour type: indexes into a PLTE chunk, which must come before IDAT
_PNG_CHUNK_NAMES = frozenset(
    b"IHDR PLTE IDAT IEND tRNS cHRM gAMA iCCP sBIT sRGB cICP tEXt zTXt iTXt bKGD hIST pHYs sPLT eXIf "
    b"tIME acTL fcTL fdAT".split()
)

# Library messages that say nothing to a person, and what they mean for the file.
_PLAIN_WORDS = (
    ("decoder error -2", "the decoder found corrupt data"),
    ("could not create decoder object", "the decoder could not start on this data"),
    ("Please build `libjxl`", "the JPEG XL decoder could not read it"),
    ("image file is truncated", "the file ends before its image data does"),  # "(42 bytes not processed)"
    ("references data outside of file bounds", "the file ends before the image data it points to"),
    ("MAX_TEXT_CHUNK", "a text or colour-profile chunk unpacks to more than is safe to read"),
    ("broken PNG file (chunk", "a chunk of unreadable bytes where the next PNG chunk should be"),
    ("invalid literal for int()", "a number in its header is not a number"),  # a PPM's "255xxx"
    ("Expected to read", "the file ends before its header does"),  # JPEG 2000 boxes
    ("Truncated File Read", "the file ends before its header does"),  # EXIF in a JPEG
    ("unknown raw mode", "its pixel layout does not match its header"),
    ("tile cannot extend outside image", "its image data lies outside the picture's bounds"),
    ("codec configuration error", "its image data does not match its header"),
    ("Decoder plugin generated an error", "the HEIF decoder found corrupt data"),
    ("NAL unit size is invalid", "the HEIF decoder found corrupt data"),
    ("does not have the size signaled", "the decoded picture is not the size its header gives"),
    ("Unsupported BMP bitfields layout", "a BMP colour layout (bit fields) the decoder here cannot read"),
    ("Unsupported BMP compression", "an unknown BMP compression"),
    ("Unsupported BMP Palette size", "a BMP palette size no file can have"),
)

# We check sizes ourselves, before decoding and after draft scaling; Pillow's own guard would
# reject a 300-MP JPEG panorama that draft mode decodes at 1/8 scale in a few megabytes.
Image.MAX_IMAGE_PIXELS = None
# A truncated file must fail, not come out with grey where its data is missing.
ImageFile.LOAD_TRUNCATED_IMAGES = False
# A PNG's compressed text or colour profile may unpack to this much (Pillow's 1 MB refused a valid
# PNG with a 2-MB printer profile); a zTXt bomb of hundreds of MB is still refused.
PngImagePlugin.MAX_TEXT_CHUNK = 16 * 2**20

_BYTES_LITERAL = re.compile(r"""\bb(['"])(.*?)\1""")
MAX_REASON = 160

_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_HIGH_BIT_DEPTH_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_ORIENTATIONS_THAT_SWAP_AXES = frozenset({5, 6, 7, 8})
_EXIF_ORIENTATION_TAG = 0x0112
_TRANSPOSE_FOR_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# Formats whose frame count means reading every frame (a 100,000-page TIFF costs a minute), or is
# only a header's claim (an APNG's acTL chunk may say 2,147,483,647): for these we only ask
# whether there is a second frame, and record 2 for "more than one".
_FRAMES_ONLY_MORE_THAN_ONE = frozenset({"TIFF", "GIF", "PNG"})


@dataclass(frozen=True)
class LoadedImage:
    """An RGB image ready for preprocessing, plus what the catalog records about the original."""

    image: Image.Image
    width: int
    height: int
    format: str
    frames: int


def load_image(data: bytes, min_side: int | None = None) -> LoadedImage:
    """Decode `data` to RGB with EXIF orientation applied.

    With `min_side`, JPEGs decode in draft mode at the smallest scale (1/2, 1/4, 1/8) whose shorter
    side still has at least `min_side` pixels (a 12-MP photo costs a 1/8-scale decode), HEIC files
    use an embedded thumbnail that is big enough, and very large images of other formats are
    reduced right after decoding. Raises ImageError with a reason a user can read.
    """
    check_file_size(len(data))
    return decode_with_pillow(io.BytesIO(data), len(data), "", min_side)


def load_image_file(path: str | os.PathLike[str], min_side: int | None = None) -> LoadedImage:
    """`load_image` for a file, read as the decoder needs it rather than whole into memory."""
    name = os.fspath(path)
    try:
        fh = open_regular(name)  # a pipe would block the decode until its deadline
    except OSError as exc:
        raise ImageError(f"cannot read: {exc.strerror or exc}") from None
    with fh:
        try:
            nbytes = os.fstat(fh.fileno()).st_size
        except OSError as exc:
            raise ImageError(f"cannot read: {exc.strerror or exc}") from None
        check_file_size(nbytes)
        if is_raw_name(name) or _is_raw_content(fh):
            from .raw import NotRawError, load_raw  # rawpy is optional and only RAW files need it

            try:
                return load_raw(name, nbytes, min_side)
            except NotRawError as not_raw:  # a JPEG, PNG or TIFF named .dng or .nef: read by its content
                try:
                    return decode_with_pillow(fh, nbytes, name, min_side)
                except ImageError:
                    raise _cut_before_its_directory(fh, nbytes) or not_raw from None
        return decode_with_pillow(fh, nbytes, name, min_side)


def _cut_before_its_directory(fp: IO[bytes], nbytes: int) -> ImageError | None:
    """A TIFF-built RAW file (DNG, NEF, CR2, ARW…) whose first directory lies past its end: cut
    short, not a camera LibRaw does not know (its words for both; a fuzz round's truncated DNG with
    its directory at the end)."""
    try:
        _, big, first = tiff_header(fp)
    except (ValueError, OSError, struct.error):  # not a TIFF at all
        return None
    if big or first + 2 <= nbytes:  # (RAW files are classic TIFFs)
        return None
    return ImageError("truncated or corrupt RAW file: it ends before the directory that describes it")


def _is_raw_content(fp: IO[bytes]) -> bool:
    """Whether a file is a camera RAW whatever its name: a DNG (a TIFF whose first directory has
    DNGVersion) or a Canon CR3 (ISO media of brand "crx "). Pillow cannot read either ("corrupt
    TIFF file", "a video"); LibRaw reads them as the camera RAWs they are."""
    try:
        head = fp.read(12)
        if head[4:12] == b"ftypcrx ":
            return True
        return head[:4] in _TIFF_SIGNATURES and _DNG_VERSION in tiff_layout_tags(
            fp, frozenset({_DNG_VERSION})
        )
    except Exception:  # a directory too broken to read: not a DNG LibRaw could read either
        return False
    finally:
        fp.seek(0)


def check_file_size(nbytes: int) -> None:
    if nbytes == 0:
        raise ImageError("empty file (0 bytes)")
    if nbytes > MAX_FILE_BYTES:
        raise ImageError(
            f"file too large ({nbytes / 2**20:,.0f} MB; "
            f"images over {MAX_FILE_BYTES // 2**20} MB are not read)"
        )


def decode_with_pillow(
    fp: IO[bytes], nbytes: int, name: str, min_side: int | None, orientation: int | None = None
) -> LoadedImage:
    """Open, check, decode and convert one image from `fp` (`nbytes` long).

    `orientation` overrides the EXIF orientation (a RAW file's preview follows the camera's record).
    """
    head = fp.read(16)
    fp.seek(0)
    if head[:4] in ICON_MAGICS:  # Pillow decodes an icon's embedded PNG while opening the file
        _check_embedded_pngs(fp, nbytes)
    if head[:8] == PNG_MAGIC:
        check_png_chunks(fp, nbytes)
        fp = without_bad_ancillary_chunks(fp, nbytes)
    if damaged := zeros_before_jpeg_scan(fp, nbytes):
        raise ImageError(damaged)
    try:
        img = Image.open(fp, formats=pillow_formats())
    except UnidentifiedImageError:
        reason = missing_support_reason(name, head) or _unidentified_reason(head, fp)
        raise ImageError(reason) from None
    except MemoryError:  # a header's claim: a small file cannot hold what would need that memory
        raise ImageError(
            "corrupt image header: it claims far more data than the file holds"
            if nbytes < _SMALL_FILE_BYTES
            else "unreadable image header: not enough memory"
        ) from None
    except Exception as exc:
        raise ImageError(f"unreadable image header: {describe(exc)}") from None
    fmt = img.format or "unknown"
    stored_width, stored_height = img.size
    frames = _frame_count(img)
    try:
        if min_side is not None:
            img.draft("RGB", (min_side, min_side))
    except Exception as exc:
        raise ImageError(f"unreadable image header: {describe(exc)}") from None
    check_header_size(stored_width, stored_height)
    check_decoded_size(img.size, (stored_width, stored_height))
    if fmt in ("BMP", "DIB") and img.info.get("compression", 0) in _BMP_RLE:
        check_run_length_bmp_size(stored_width, stored_height)  # its file size says nothing
    else:
        check_claimed_size(fmt, stored_width, stored_height, nbytes)
    if fmt == "TIFF":
        check_tiff_coverage(fp)
    if img.info.get("progressive") and stored_width * stored_height > MAX_DECODED_PIXELS:
        # libjpeg holds every coefficient of a progressive JPEG at full size, whatever the draft
        # scale: a valid 20000² one took 2.3 GB and failed as "broken data stream".
        raise ImageError(
            f"progressive JPEG too large to decode safely ({stored_width}×{stored_height} = "
            f"{stored_width * stored_height / 1e6:.0f} MP; a progressive JPEG is decoded at full size, "
            f"limit {MAX_DECODED_PIXELS / 1e6:.0f} MP)"
        )
    damaged = zero_filled(fp, nbytes, fmt)  # decoders conceal it as flat colour, or say "truncated"
    if damaged:
        raise ImageError(damaged)
    try:
        img.load()
    except MemoryError:
        raise ImageError("not enough memory to decode this image") from None
    except Exception as exc:
        if fmt == "TIFF" and any(words in str(exc) for words in _TIFF_LAYOUT_ERRORS):
            variant = _tiff_variant(fp)
            if variant:
                raise ImageError(_unsupported_tiff(variant)) from None
        raise ImageError(f"truncated or corrupt image: {describe(exc)}") from None
    if orientation is None:
        orientation = _orientation(img)
    width, height = stored_width, stored_height
    if orientation in _ORIENTATIONS_THAT_SWAP_AXES:
        width, height = height, width
    rgb = finish_decoded(img, orientation, min_side)
    return LoadedImage(image=rgb, width=width, height=height, format=fmt, frames=frames)


def finish_decoded(img: Image.Image, orientation: int, min_side: int | None) -> Image.Image:
    """Decoded pixels → oriented 8-bit RGB, shrunk first if they are far bigger than needed."""
    try:
        if min_side is not None:
            img = _reduced(img, min_side)
        transpose = _TRANSPOSE_FOR_ORIENTATION.get(orientation)
        if transpose is not None:
            img = img.transpose(transpose)
        return _to_rgb(img)
    except MemoryError:
        raise ImageError("not enough memory to convert this image") from None
    except ImageError:
        raise
    except Exception as exc:
        raise ImageError(f"cannot convert image ({img.mode}): {describe(exc)}") from None


def check_header_size(width: int, height: int) -> None:
    """Refuse a size no header can mean: zero, negative, or a negative one that the decoder read as
    unsigned (a BMP width of −4 comes back from Pillow as 4294967292), which would otherwise be
    reported as a decompression bomb."""
    if not (0 < width < 2**31 and 0 < height < 2**31):
        shown = [v - 2**32 if 2**31 <= v < 2**32 else v for v in (width, height)]
        raise ImageError(f"corrupt image header: size {shown[0]}×{shown[1]}")


def check_claimed_size(fmt: str, width: int, height: int, nbytes: int) -> None:
    """Refuse, from the header alone, a size the data cannot hold or we cannot afford (a size
    `check_header_size` has let through)."""
    per_byte = _MAX_PIXELS_PER_BYTE.get(fmt)
    if per_byte is not None and width * height > nbytes * per_byte:
        raise ImageError(
            f"truncated or forged image: the header claims {width}×{height} but the file holds "
            f"only {nbytes:,} bytes"
        )


def check_png_chunks(fp: IO[bytes], nbytes: int) -> None:
    """Refuse a PNG one of whose chunks claims more bytes than the file holds: Pillow reads a
    claimed length whole before it checks anything, so a 5-KB file whose IDAT says 4 GB failed as
    "not enough memory", or not, by how much memory there was. Only chunk headers are read."""
    colour_type, palette = None, False
    try:
        for position, length, kind in png_chunks.chunks(fp):  # (one cut short: Pillow says so)
            if position + 8 + length > nbytes:  # (a missing checksum is Pillow's to report)
                name = kind.decode("latin-1") if kind in _PNG_CHUNK_NAMES else "a"  # not garbage
                raise ImageError(
                    f"truncated or corrupt PNG: {name} chunk claims {length:,} bytes, "
                    f"the file holds {nbytes:,}"
                )
            if kind == b"IHDR" and length >= 10:
                colour_type = fp.read(10)[9]
            palette = palette or kind == b"PLTE"
            if kind == b"IDAT" and colour_type == _PNG_PALETTE and not palette:
                # Pillow decodes the indexes as black; libpng and browsers refuse the file.
                raise ImageError("corrupt PNG: a palette image without its palette")
    finally:
        fp.seek(0)


def _check_embedded_pngs(fp: IO[bytes], nbytes: int) -> None:
    """An ICO/CUR/ICNS file's embedded PNGs, checked from their headers as any PNG is."""
    try:
        sizes = list(embedded_png_sizes(fp, nbytes))
    except (OSError, struct.error):
        sizes = []  # a directory cut short: Pillow will say what is wrong with it
    finally:
        fp.seek(0)
    for width, height, stored in sizes:
        check_header_size(width, height)
        check_claimed_size("PNG", width, height, stored)
        check_decoded_size((width, height), (width, height))


def check_decoded_size(decoded: tuple[int, int], claimed: tuple[int, int]) -> None:
    if decoded[0] * decoded[1] > MAX_DECODED_PIXELS:
        width, height = claimed
        raise ImageError(
            f"image too large to decode safely ({width}×{height} = {width * height / 1e6:.0f} MP, "
            f"limit {MAX_DECODED_PIXELS / 1e6:.0f} MP): possible decompression bomb"
        )


def describe(exc: BaseException) -> str:
    """An exception as one line a person can read: its message, or its type when it has none.
    Pillow words some as Python's bytes literals (`b'Token too long in file header: …'`), with the
    file's own bytes inside: the quotes go, and the line stops at MAX_REASON characters."""
    text = str(exc).strip().splitlines()
    line = (
        _BYTES_LITERAL.sub(lambda m: f"“{m.group(2)}”" if m.start() else m.group(2), text[0]) if text else ""
    )
    line = line or type(exc).__name__
    if isinstance(exc, OSError) and exc.errno == errno.EINVAL:  # a seek or read the file set up
        line = "an offset or length in the file is out of range"
    line = next((plain for words, plain in _PLAIN_WORDS if words in line), line)
    return line if len(line) <= MAX_REASON else line[: MAX_REASON - 1] + "…"


def _unidentified_reason(head: bytes, fp: IO[bytes]) -> str:
    """Why no trusted decoder would open a file: its signature says what it meant to be."""
    if head[:2] == b"\xff\xd8":
        try:
            variant = _jpeg_variant(fp)
        except Exception:  # a header too broken to walk
            variant = None
        if variant:
            # Valid files that this build's JPEG decoder (8-bit, Huffman) cannot decode.
            return f"unsupported JPEG variant: {variant} JPEGs cannot be decoded here"
    if head[:4] in _TIFF_SIGNATURES:
        variant = _tiff_variant(fp)
        if variant:  # a layout Pillow has no mode for (12-bit RGB, float RGB, …)
            return _unsupported_tiff(variant)
    for signature, name in _SIGNATURES:
        if head.startswith(signature):
            return f"corrupt {name} file: its header could not be read"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "corrupt WebP file: its header could not be read"
    if head[:4] == b"8BPS":
        return _psd_reason(fp)
    if head[4:8] == b"ftyp":  # ISO media: HEIF and AVIF by their brands, else a video
        if _ftyp_brands(fp) & _HEIF_BRANDS:
            return "corrupt HEIF or AVIF file: its header could not be read"
        return "not an image: a video or another ISO media file (MP4, QuickTime)"
    fp.seek(0)
    start = fp.read(_TEXT_HEAD)
    fp.seek(0)
    text = start.lstrip(b"\xef\xbb\xbf \t\r\n").lower()  # a byte-order mark, blank lines: a browser's
    if text.startswith(b"<?xml"):  # what the declaration is of: an SVG drawing, a page, …
        text = text[text.find(b"?>") + 2 :].lstrip(b" \t\r\n") if b"?>" in text else text
        text = _XML_PREAMBLE.sub(b"", text)
    for signature, what in _OTHER_CONTENT:
        if text.startswith(signature):
            return what
    return "not an image: the content is not a recognised image format"


# What else a file with an image's name often is, worded for the skipped list: pages a download
# saved under the picture's name, a video from a phone's live photo, a vector drawing, an archive.
_OTHER_CONTENT = (
    (b"<!doctype html", "not an image: a web page saved under an image's name"),
    (b"<html", "not an image: a web page saved under an image's name"),
    (b"<!doctype svg", "unsupported format: SVG drawings are not read here"),
    (b"%pdf", "not an image: a PDF document"),
    (b"pk\x03\x04", "not an image: a ZIP archive"),
    (b"\x1f\x8b", "not an image: a gzip archive"),
    (b"<svg", "unsupported format: SVG drawings are not read here"),
    (b"p7\n", "unsupported format: Netpbm PAM (P7) images are not read here"),
)
_HEIF_BRANDS = frozenset(b"heic heix hevc hevx heim heis hevm hevs mif1 msf1 avif avis".split())
_FTYP_MAX = 4096  # an ftyp box lists a handful of brands


def _ftyp_brands(fp: IO[bytes]) -> frozenset[bytes]:
    """The major and compatible brands of an ISO media file's leading ftyp box: a HEIF photo may
    name `heic` or `mif1` only among the compatible ones (15 files of libheif's fuzz corpus)."""
    fp.seek(0)
    box = fp.read(_FTYP_MAX)
    fp.seek(0)
    size = int.from_bytes(box[:4], "big")
    brands = box[8:12] + box[16 : min(size, len(box))]
    return frozenset(brands[i : i + 4] for i in range(0, len(brands) - 3, 4))


# Photoshop's colour modes; Pillow's PSD reader takes version 1 (not PSB) at 8 bits (1 for bitmap).
_PSD_MODES = {
    0: "bitmap",
    1: "grey",
    2: "indexed",
    3: "RGB",
    4: "CMYK",
    7: "multichannel",
    8: "duotone",
    9: "Lab",
}


def _psd_reason(fp: IO[bytes]) -> str:
    """Why Pillow did not open a Photoshop file: a kind it does not read (16- or 32-bit, large
    document), named from the header, or damage. It is a recognised format either way (12 valid
    files of kimageformats' tests were called "not a recognised image format")."""
    fp.seek(0)
    header = fp.read(26)
    fp.seek(0)
    if len(header) < 26:
        return "corrupt Photoshop (PSD) file: its header is cut short"
    version, depth, mode = (int.from_bytes(header[a : a + 2], "big") for a in (4, 22, 24))
    readable_here = version == 1 and depth in (1, 8)  # so damage, not a variant, stopped Pillow
    if version not in (1, 2) or depth not in (1, 8, 16, 32) or mode not in _PSD_MODES or readable_here:
        return "corrupt Photoshop (PSD) file: its header could not be read"
    words = [f"{depth}-bit {_PSD_MODES[mode]}"] + (["large-document (PSB)"] if version == 2 else [])
    return f"unsupported Photoshop variant ({', '.join(words)}): only 8-bit PSD files are read here"


_TEXT_HEAD = 1024  # read to tell text content apart: a page may start with a blank line or two
_XML_PREAMBLE = re.compile(rb"^(\s*(<!--.*?-->|<!doctype svg[^>]*>))*\s*", re.DOTALL)  # before <svg


_TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF
_SIGNATURES = (
    (b"\xff\xd8", "JPEG"),
    (b"\x89PNG", "PNG"),
    (b"GIF8", "GIF"),
    *((signature, "TIFF") for signature in _TIFF_SIGNATURES),
    (b"BM", "BMP"),
)


_LOSSLESS_SOF = frozenset({0xC3, 0xC7, 0xCB, 0xCF})


def _jpeg_variant(fp: IO[bytes]) -> str | None:
    """What a JPEG's frame header (SOFn) says this build cannot decode: "12-bit", "lossless", … or
    None. Arithmetic coding is not among them: libjpeg-turbo decodes it (sequential and
    progressive), so a file of that kind that did not open is damaged (a fuzz corpus's CVE file was
    told "unsupported variant", which sends a person looking for a plug-in)."""
    for kind, body in jpeg_segments.segments(fp):
        if kind in jpeg_segments.SOF_KINDS:
            words = []
            if body and body[0] != 8:
                words.append(f"{body[0]}-bit")
            if kind in _LOSSLESS_SOF:
                words.append("lossless")
            return " ".join(words) or None
    return None


# Photometric interpretation → (name, colour samples per pixel, before any ExtraSamples).
_PHOTOMETRIC = {
    0: ("grey", 1),
    1: ("grey", 1),
    2: ("RGB", 3),
    3: ("palette", 1),
    4: ("mask", 1),
    5: ("CMYK", 4),
    6: ("YCbCr", 3),
    8: ("CIELab", 3),
}
# Photometric interpretations no decoder here reads at all (HDR and camera-sensor encodings).
_OTHER_PHOTOMETRIC = {32803: "colour filter array", 32844: "LogL", 32845: "LogLuv", 34892: "linear raw"}
_SAMPLE_FORMAT = {1: "", 2: "signed", 3: "floating-point"}
# Bits per sample that Pillow reads, by photometric interpretation (unsigned integers; grey
# also as 32-bit signed or float); and the depths a real file has.
_READABLE_BITS = {
    0: {1, 2, 4, 8, 16},
    1: {1, 2, 4, 8, 16},
    2: {8, 16},
    3: {1, 2, 4, 8},
    4: {1},
    5: {8, 16},
    6: {8},
    8: {8},
}
_REAL_BITS = frozenset({1, 2, 4, 8, 10, 12, 14, 16, 24, 32, 64})

# What Pillow says when it opened a TIFF but has no unpacker for its layout (16-bit grey stored
# planar, YCbCr planar, …): not a sign of damage.
_TIFF_LAYOUT_ERRORS = ("unknown raw mode", "codec configuration error")


def _unsupported_tiff(variant: str) -> str:
    return f"unsupported TIFF variant ({variant}): the TIFF decoder here cannot read it"


def _tiff_variant(fp: IO[bytes]) -> str | None:
    """A layout no decoder here reads ("12-bit RGB", "32-bit floating-point RGB, planar" …), when a
    TIFF's first directory describes one consistently; None for an ordinary layout (8-bit RGB,
    16-bit grey …: such a file failed because it is damaged) and for anything a valid file could
    not hold (mixed or impossible depths, samples the photometric does not account for, or
    uncompressed data whose size does not fit the layout: a bit flip in the directory, not a
    variant)."""
    try:
        tags = tiff_layout_tags(fp)
        little_endian = tiff_header(fp)[0] == "<"
        photometric, samples = tags[262][0], tags.get(277, (1,))[0]
        if photometric in _OTHER_PHOTOMETRIC:  # (libtiff's LogLuv test image was "corrupt")
            return _OTHER_PHOTOMETRIC[photometric]
        name, colours = _PHOTOMETRIC[photometric]
        bits, formats = tags[258], set(tags.get(339, (1,)))
        depth, planar, compression = bits[0], tags.get(284, (1,))[0], tags.get(259, (1,))[0]
        consistent = (
            samples == colours + len(tags.get(338, ()))
            and len(bits) in (1, samples)
            and set(bits) == {depth}
            and depth in _REAL_BITS
            and len(formats) == 1
            and formats <= set(_SAMPLE_FORMAT)
            and planar in (1, 2)
            and (compression != 1 or _uncompressed_size_fits(tags, samples, depth, planar))
        )
    except Exception:  # a directory too broken to read (or dividing by a tile width of 0): damaged
        return None
    if not consistent:
        return None
    sample_format = _SAMPLE_FORMAT[formats.pop()]
    # 32-bit grey: signed or float either way round, unsigned only little-endian (Pillow's modes)
    grey32 = photometric in (0, 1) and depth == 32 and (bool(sample_format) or little_endian)
    # Pillow reads grey or palette with an extra (alpha) sample at 8 bits only (LA, PA).
    alpha = photometric in (0, 1, 3) and samples > colours
    unusual = (
        (depth not in _READABLE_BITS[photometric] and not grey32)
        or (sample_format and not grey32)
        or (alpha and depth != 8)
    )
    if not (unusual or planar == 2):
        return None
    words = " ".join(w for w in (f"{depth}-bit", sample_format, name, "with alpha" if alpha else "") if w)
    return f"{words}, planar" if planar == 2 else words


def _uncompressed_size_fits(tags: dict[int, tuple[int, ...]], samples: int, depth: int, planar: int) -> bool:
    """Whether the strips' (or tiles') byte counts are exactly what the layout needs, uncompressed."""
    planes, per_plane = (samples, 1) if planar == 2 else (1, samples)
    width, height = tags[256][0], tags[257][0]
    if 322 in tags:
        tile_width, tile_height = tags[322][0], tags[323][0]
        tiles = -(-width // tile_width) * -(-height // tile_height)
        need = tiles * planes * ((tile_width * per_plane * depth + 7) // 8) * tile_height
        return sum(tags[325]) == need
    return sum(tags[279]) == planes * ((width * per_plane * depth + 7) // 8) * height


# The directory entries `_tiff_variant` reads, and what it takes from each: types BYTE, SHORT,
# LONG and LONG8, at most _TIFF_MAX_VALUES values (a hostile count must not cost memory).
_TIFF_LAYOUT_TAGS = frozenset({256, 257, 258, 259, 262, 277, 278, 279, 284, 322, 323, 325, 338, 339})
_TIFF_TYPES = {1: "B", 3: "H", 4: "I", 16: "Q"}
_TIFF_MAX_VALUES = 65_536
_DNG_VERSION = 50706
_TIFF_MAX_ENTRIES = 4_096


def tiff_header(fp: IO[bytes]) -> tuple[str, bool, int]:
    """(byte order for struct, BigTIFF or not, offset of the first directory) of a TIFF's header;
    ValueError (or struct.error, OSError) for anything else."""
    fp.seek(0)
    head = fp.read(16)
    if head[:4] not in _TIFF_SIGNATURES:
        raise ValueError("not a TIFF header")
    order = "<" if head[:2] == b"II" else ">"
    big = struct.unpack(order + "H", head[2:4])[0] == 43
    return order, big, struct.unpack(order + ("Q" if big else "I"), head[8:16] if big else head[4:8])[0]


def tiff_layout_tags(fp: IO[bytes], wanted: frozenset[int] = _TIFF_LAYOUT_TAGS) -> dict[int, tuple[int, ...]]:
    """The `wanted` entries (by default the layout's) of a TIFF's (or BigTIFF's) first directory,
    read with bounded effort."""
    order, big, first = tiff_header(fp)
    word = "Q" if big else "I"
    fp.seek(first)
    count_size, entry_size, inline = (8, 20, 8) if big else (2, 12, 4)
    entries = struct.unpack(order + ("Q" if big else "H"), fp.read(count_size))[0]
    if entries > _TIFF_MAX_ENTRIES:
        raise ValueError("too many directory entries")
    table = fp.read(entries * entry_size)
    tags: dict[int, tuple[int, ...]] = {}
    for at in range(0, len(table) - entry_size + 1, entry_size):
        tag, kind = struct.unpack_from(order + "HH", table, at)
        count = struct.unpack_from(order + word, table, at + 4)[0]
        if tag not in wanted or kind not in _TIFF_TYPES or not 0 < count <= _TIFF_MAX_VALUES:
            continue
        size = count * struct.calcsize(_TIFF_TYPES[kind])
        data = table[at + entry_size - inline : at + entry_size]
        if size > inline:
            fp.seek(struct.unpack(order + word, data)[0])
            data = fp.read(size)
        tags[tag] = struct.unpack(f"{order}{count}{_TIFF_TYPES[kind]}", data[:size])
    return tags


def check_run_length_bmp_size(width: int, height: int) -> None:
    """A run-length BMP small enough for Pillow's Python decoder to finish in seconds."""
    pixels = width * height
    if pixels > _RLE_BMP_MAX_PIXELS:
        raise ImageError(
            f"run-length BMP too large to decode in reasonable time ({width}×{height} = "
            f"{pixels / 1e6:.0f} MP, limit {_RLE_BMP_MAX_PIXELS / 1e6:.0f} MP)"
        )


def check_tiff_coverage(fp: IO[bytes]) -> None:
    """Refuse a TIFF whose first directory lists fewer strips or tiles than its size needs: the
    decoder leaves the rest black and says nothing (a 64 × 100000 file holding one strip of 48 rows
    was indexed as a picture)."""
    try:
        tags = tiff_layout_tags(fp)
        width, height = tags[256][0], tags[257][0]
        planes = tags.get(277, (1,))[0] if tags.get(284, (1,))[0] == 2 else 1
        if 322 in tags and 323 in tags and 325 in tags:
            tile_w, tile_h = tags[322][0], tags[323][0]
            needed = -(-width // tile_w) * -(-height // tile_h) * planes
            found, unit = len(tags[325]), "tiles"
        elif 279 in tags:
            rows = min(tags.get(278, (height,))[0], height) or height
            needed, found, unit = -(-height // rows) * planes, len(tags[279]), "strips"
        else:
            return
    except Exception:  # a directory too broken to read: Pillow says what is wrong with it
        return
    finally:
        fp.seek(0)
    if found < needed:
        raise ImageError(
            f"truncated or corrupt TIFF: {width}×{height} needs {needed:,} {unit}, it lists {found:,}"
        )


def _frame_count(img: Image.Image) -> int:
    try:
        if img.format in _FRAMES_ONLY_MORE_THAN_ONE:
            return 2 if getattr(img, "is_animated", False) else 1
        return max(1, int(getattr(img, "n_frames", 1)))
    except Exception:  # a broken second frame does not spoil the first
        with contextlib.suppress(Exception):
            img.seek(0)
        return 1


def _orientation(img: Image.Image) -> int:
    """The EXIF orientation, read only after the pixels were decoded (a PNG's EXIF may follow them)."""
    try:
        return int(img.getexif().get(_EXIF_ORIENTATION_TAG, 1))
    except Exception:  # a broken EXIF block leaves the pixels as stored
        return 1


def _reduced(img: Image.Image, min_side: int) -> Image.Image:
    if img.width * img.height <= _REDUCE_ABOVE_PIXELS:
        return img
    factor = min(img.width, img.height) // min_side
    if factor < 2:
        return img
    try:
        return img.reduce(factor)
    except ValueError:  # a mode reduce() does not handle
        if img.mode in _HIGH_BIT_DEPTH_MODES:
            return _box_reduced(img, factor)
        return img  # palette, 1-bit: converted full size, at a byte a pixel


def _box_reduced(img: Image.Image, factor: int) -> Image.Image:
    """`img` shrunk by `factor` (a box filter) in its own sample type. Pillow cannot reduce 16-bit
    grey, and converting it full size made several float64 copies: a valid 11000 × 10900 16-bit PNG
    ran out of memory (a fuzz round). Here: one copy of its samples, and a small result."""
    samples = np.asarray(img)
    height, width = (samples.shape[0] // factor) * factor, (samples.shape[1] // factor) * factor
    blocks = samples[:height, :width].reshape(height // factor, factor, width // factor, factor)
    mean = blocks.mean(axis=(1, 3), dtype=np.float64 if samples.dtype == np.float64 else np.float32)
    if np.issubdtype(samples.dtype, np.integer):
        mean = np.rint(mean)
    return Image.fromarray(mean.astype(samples.dtype), img.mode if img.mode in ("I", "F") else None)


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any mode → 8-bit RGB; transparency is composited on white, as viewers show it."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in _HIGH_BIT_DEPTH_MODES:
        return _high_bit_depth_to_rgb(img)
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode == "La":  # premultiplied grey (a TIFF's associated alpha): Pillow converts it only to LA
        img = img.convert("LA")
        mode = "LA"
    if mode in _ALPHA_MODES:
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def _high_bit_depth_to_rgb(img: Image.Image) -> Image.Image:
    """16-bit, 32-bit and float greyscale → 8-bit over the range the data really uses.

    16-bit data keeps its 0–65535 scale (a dark 16-bit photo stays dark); floats in [0, 1] keep
    that scale; anything else (int32, other floats) is stretched between its finite extremes.
    Non-finite pixels never set the scale: +inf shows white, −inf and NaN black.
    """
    values = np.asarray(img, dtype=np.float64)
    finite = np.isfinite(values)
    low, high = (float(values[finite].min()), float(values[finite].max())) if finite.any() else (0.0, 0.0)
    if img.mode == "F" and low >= 0.0 and high <= 1.0:
        low, high = 0.0, 1.0
    elif img.mode != "F" and low >= 0.0 and high <= 255.0:
        low, high = 0.0, 255.0
    elif img.mode != "F" and low >= 0.0 and high <= 65535.0:
        low, high = 0.0, 65535.0
    values = np.where(finite, values, np.where(values > 0, high, low))
    scale = 255.0 / (high - low) if high > low else 0.0
    grey = np.clip(np.rint((values - low) * scale), 0, 255).astype(np.uint8)
    return Image.fromarray(grey).convert("RGB")
