"""Safe loading: every mode and every kind of bad file, with real files built by Pillow."""

from __future__ import annotations

import shutil
import struct
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from sorter_app.core.decode_pool import DecodePool
from sorter_app.core.errors import ImageError
from sorter_app.core.images import load_image, load_image_file
from tests import builders


def _load(path: Path, min_side: int | None = 224):  # type: ignore[no-untyped-def]
    return load_image(path.read_bytes(), min_side=min_side)


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (builders.write_zero_bytes, "empty file"),
        (builders.write_not_an_image, "not an image"),
        (builders.write_truncated_jpeg, "truncated or corrupt"),
        (builders.write_png_bomb, "decompression bomb"),
    ],
)
def test_bad_files_give_a_one_line_reason(tmp_path: Path, build, reason: str) -> None:  # type: ignore[no-untyped-def]
    path = build(tmp_path / "bad.jpg")
    with pytest.raises(ImageError) as caught:
        _load(path)
    message = str(caught.value)
    assert reason in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("layout", "variant"),
    [
        ({"bits": 12, "samples": 3, "photometric": 2}, "12-bit RGB"),
        (
            {"bits": 32, "samples": 3, "photometric": 2, "planar": 2, "sample_format": 3},
            "32-bit floating-point RGB, planar",
        ),
        ({"bits": 16, "samples": 3, "photometric": 8}, "16-bit CIELab"),
        ({"bits": 16, "samples": 1, "photometric": 1, "planar": 2}, "16-bit grey, planar"),  # fails in load()
    ],
)
def test_a_valid_tiff_no_decoder_here_reads_is_called_unsupported_not_corrupt(
    tmp_path: Path, layout: dict[str, int], variant: str
) -> None:
    """Scanners and scientific cameras write layouts Pillow has no mode for; "corrupt" would send
    the user looking for damage that is not there."""
    path = builders.write_raw_tiff(tmp_path / "scan.tif", **layout)
    with pytest.raises(ImageError) as caught:
        load_image_file(path, 224)
    assert str(caught.value) == f"unsupported TIFF variant ({variant}): the TIFF decoder here cannot read it"


def test_a_damaged_tiff_of_an_ordinary_layout_is_still_called_corrupt(tmp_path: Path) -> None:
    readable = builders.write_raw_tiff(tmp_path / "ok.tif", bits=8, samples=3, photometric=2)
    assert load_image_file(readable, 224).image.size == (40, 30)
    data = bytearray(readable.read_bytes())
    data[4:8] = (len(data) + 1000).to_bytes(4, "little")  # the directory is past the end
    (tmp_path / "lost.tif").write_bytes(bytes(data))
    with pytest.raises(ImageError, match=r"^corrupt TIFF file"):
        load_image_file(tmp_path / "lost.tif", 224)
    flipped = bytearray(readable.read_bytes())
    at = flipped.index(struct.pack("<HHI", 258, 3, 3))  # BitsPerSample, three values elsewhere
    values = struct.unpack_from("<I", flipped, at + 8)[0]
    struct.pack_into("<3H", flipped, values, 12, 12, 12)  # one bit of each 8 flipped: "12-bit RGB"
    (tmp_path / "flipped.tif").write_bytes(bytes(flipped))  # but its data still holds 8 bits a sample
    with pytest.raises(ImageError, match=r"^corrupt TIFF file"):
        load_image_file(tmp_path / "flipped.tif", 224)
    tiles = bytearray(
        builders.write_raw_tiff(tmp_path / "t.tif", bits=12, samples=3, photometric=2).read_bytes()
    )
    at = tiles.index(struct.pack("<HHI", 278, 4, 1))  # RowsPerStrip → TileWidth 0
    struct.pack_into("<HHII", tiles, at, 322, 4, 1, 0)
    at = tiles.index(struct.pack("<HHI", 284, 3, 1))  # PlanarConfiguration → TileLength 16
    struct.pack_into("<HHII", tiles, at, 323, 4, 1, 16)
    (tmp_path / "tiles.tif").write_bytes(bytes(tiles))
    with pytest.raises(ImageError, match=r"^corrupt TIFF file"):  # not a ZeroDivisionError
        load_image_file(tmp_path / "tiles.tif", 224)
    builders.scene(1).save(tmp_path / "cut.tif", "TIFF")  # its directory comes before the pixels
    whole = (tmp_path / "cut.tif").read_bytes()
    (tmp_path / "cut.tif").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ImageError, match=r"^truncated or corrupt image"):
        load_image_file(tmp_path / "cut.tif", 224)


def test_a_tiff_directory_claiming_millions_of_depths_costs_no_memory_and_a_short_reason(
    tmp_path: Path,
) -> None:
    """A review's find: BitsPerSample with 5 million values (8, 16, 8, …) came out as a 12.5-MB
    reason, stored in the catalog, and took gigabytes to write."""
    values = 5_000_000
    entries = [(256, 3, 1, 1), (257, 3, 1, 1), (258, 3, values, None), (262, 3, 1, 2), (277, 3, 1, 3)]
    after = 8 + 2 + 12 * len(entries) + 4
    data = b"II*\0" + struct.pack("<IH", 8, len(entries))
    for tag, kind, count, value in entries:
        field = struct.pack("<I", after) if value is None else struct.pack("<HH", value, 0)
        data += struct.pack("<HHI", tag, kind, count) + field
    (tmp_path / "depths.tif").write_bytes(
        data + struct.pack("<I", 0) + struct.pack("<HH", 8, 16) * (values // 2)
    )
    with pytest.raises(ImageError) as caught:
        load_image_file(tmp_path / "depths.tif", 224)
    assert str(caught.value) == "corrupt TIFF file: its header could not be read"


def _other_content(path: Path, kind: str) -> None:
    """A file of another kind that people find under an image's name, written by its own tools
    where Python has them."""
    if kind == "web page":
        path.write_text("<!DOCTYPE html>\n<html><head><title>403 Forbidden</title></head></html>\n")
    elif kind == "web page with a byte-order mark and blank lines":
        path.write_bytes(
            b"\xef\xbb\xbf\r\n\r\n  <!DOCTYPE html>\n<html lang='en'><body>Not found</body></html>"
        )
    elif kind == "XHTML":
        path.write_text(
            '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html>\n<html xmlns="http://www.w3.org/1999/xhtml"/>'
        )
    elif kind == "SVG with its XML declaration":
        path.write_text('<?xml version="1.0"?>\n<!-- Inkscape -->\n<svg xmlns="http://www.w3.org/2000/svg"/>')
    elif kind == "CR3":  # the start of a Canon CR3 under a JPEG's name: a camera RAW, not a video
        path.write_bytes(struct.pack(">I4s4sI8s", 24, b"ftyp", b"crx ", 1, b"crx isom") + bytes(200))
    elif kind == "PDF":
        builders.scene(1).save(path, "PDF")
    elif kind == "ZIP":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("photo.txt", "x" * 100)
    elif kind == "video":  # the start of an MP4: its ftyp box, brand mp42
        path.write_bytes(struct.pack(">I4s4sI8s", 24, b"ftyp", b"mp42", 0, b"isommp42") + bytes(64))
    elif kind == "SVG":
        path.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"></svg>')
    else:  # a valid 4 × 2 Netpbm PAM
        path.write_bytes(b"P7\nWIDTH 4\nHEIGHT 2\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n" + bytes(24))


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("web page", "not an image: a web page saved under an image's name"),
        ("PDF", "not an image: a PDF document"),
        ("ZIP", "not an image: a ZIP archive"),
        ("video", "not an image: a video or another ISO media file (MP4, QuickTime)"),
        ("SVG", "unsupported format: SVG drawings are not read here"),
        ("PAM", "unsupported format: Netpbm PAM (P7) images are not read here"),
        (
            "web page with a byte-order mark and blank lines",
            "not an image: a web page saved under an image's name",
        ),
        ("XHTML", "not an image: a web page saved under an image's name"),
        ("SVG with its XML declaration", "unsupported format: SVG drawings are not read here"),
        ("CR3", "not a RAW file this version of LibRaw can read"),
    ],
)
def test_other_content_under_an_image_name_is_named(tmp_path: Path, kind: str, reason: str) -> None:
    """Every one of these was "not an image: the content is not a recognised image format"; the
    skipped list now says what the file is, so a user knows whether anything was lost."""
    path = tmp_path / "IMG_1001.jpg"
    _other_content(path, kind)
    with pytest.raises(ImageError) as caught:
        load_image_file(path, min_side=224)  # as indexing reads it (a CR3 goes to LibRaw by content)
    assert str(caught.value) == reason


def test_untrusted_format_is_never_opened(tmp_path: Path) -> None:
    """An EPS named .jpg: Pillow would hand it to Ghostscript; we do not let Pillow try EPS at all."""
    path = tmp_path / "picture.jpg"
    builders.scene(1).save(path, "EPS")
    with pytest.raises(ImageError, match="not an image"):
        _load(path)


@pytest.mark.parametrize(
    "build",
    [
        builders.write_cmyk_jpeg,
        builders.write_palette_alpha_png,
        builders.write_rgba_png,
        builders.write_animated_gif,
        builders.write_premultiplied_grey_tiff,  # "cannot convert image (La)" in a hostile corpus
    ],
)
def test_every_mode_becomes_rgb(tmp_path: Path, build) -> None:  # type: ignore[no-untyped-def]
    loaded = _load(build(tmp_path / "img", 3))
    assert loaded.image.mode == "RGB"
    assert loaded.image.size == (320, 240)


def test_sixteen_bit_keeps_its_range_instead_of_clipping(tmp_path: Path) -> None:
    loaded = _load(builders.write_16bit_png(tmp_path / "deep.png"))
    pixels = np.asarray(loaded.image)
    assert loaded.image.mode == "RGB"
    assert pixels.min() == 0 and pixels.max() == 255
    assert 100 < pixels.mean() < 155  # a linear ramp stays a ramp, not a white sheet


def test_an_apng_s_claimed_frame_count_is_not_recorded(tmp_path: Path) -> None:
    """An APNG's acTL chunk says how many frames follow, and nothing checks it until each is read:
    a header's 2,147,483,647 went into the catalog as that count (a stop-29 fuzz find)."""
    path = tmp_path / "anim.png"
    frames = [builders.scene(seed) for seed in (1, 2)]
    frames[0].save(path, "PNG", save_all=True, append_images=frames[1:])
    data = bytearray(path.read_bytes())
    at = data.index(b"acTL")
    struct.pack_into(">I", data, at + 4, 2**31 - 1)
    struct.pack_into(">I", data, at + 12, zlib.crc32(bytes(data[at : at + 12])))
    path.write_bytes(bytes(data))
    loaded = _load(path)
    assert loaded.frames == 2  # "more than one"
    assert loaded.image.size == (320, 240)


def test_transparent_areas_are_white(tmp_path: Path) -> None:
    loaded = _load(builders.write_rgba_png(tmp_path / "alpha.png", 4))
    left_strip = np.asarray(loaded.image)[:, :40]
    assert (left_strip == 255).all()


def test_animated_gif_uses_its_first_frame(tmp_path: Path) -> None:
    loaded = _load(builders.write_animated_gif(tmp_path / "anim.gif", 5, frames=3))
    assert loaded.frames == 2  # GIF and TIFF say only "more than one": counting walks every frame
    first = np.asarray(builders.scene(5), dtype=np.float32)
    other = np.asarray(builders.scene(6), dtype=np.float32)
    got = np.asarray(loaded.image, dtype=np.float32)
    assert np.abs(got - first).mean() < np.abs(got - other).mean()


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    loaded = _load(builders.write_exif_rotated_jpeg(tmp_path / "rotated.jpg", orientation=6))
    assert (loaded.width, loaded.height) == (200, 300)
    assert loaded.image.size == (200, 300)
    pixels = np.asarray(loaded.image).astype(int)
    top, bottom = pixels[10, 100], pixels[-10, 100]
    assert top[0] > 200 and top[2] < 60  # the red half is on top once rotated clockwise
    assert bottom[2] > 200 and bottom[0] < 60


def test_big_jpeg_decodes_in_draft_mode(tmp_path: Path) -> None:
    path = builders.write_jpeg(tmp_path / "big.jpg", 9, size=(4000, 3000), quality=80)
    loaded = _load(path, min_side=224)
    assert (loaded.width, loaded.height) == (4000, 3000)  # the original's size is what the catalog records
    assert loaded.image.size == (500, 375)  # decoded at 1/8 scale, shorter side still ≥ 224
    full = _load(path, min_side=None)
    assert full.image.size == (4000, 3000)


def test_huge_panorama_jpeg_is_decoded_reduced_not_refused(tmp_path: Path) -> None:
    path = builders.write_jpeg(tmp_path / "pano.jpg", 2, size=(16000, 1000), quality=60)
    loaded = _load(path, min_side=224)
    assert loaded.image.size == (4000, 250)


def test_an_image_named_as_raw_is_read_by_its_content(tmp_path: Path) -> None:
    """A JPEG saved as .nef was refused ("not a RAW file this version of LibRaw can read")."""
    pytest.importorskip("rawpy")
    loaded = load_image_file(builders.write_jpeg(tmp_path / "photo.nef", seed=2), min_side=224)
    assert loaded.format == "JPEG" and loaded.image.mode == "RGB"
    junk = tmp_path / "junk.dng"
    junk.write_bytes(b"not an image at all" * 100)
    with pytest.raises(ImageError, match="not a RAW file"):
        load_image_file(junk, min_side=224)


def test_a_ppm_whose_header_token_is_too_long_gets_a_reason_without_python_bytes(tmp_path: Path) -> None:
    """Pillow words some errors as bytes literals, with the file's own bytes inside (a fuzz find:
    `unreadable image header: b'Token too long in file header: 99999999999'`)."""
    path = tmp_path / "long.ppm"
    path.write_bytes(b"P6 " + b"9" * 5000 + b" 1 255\n" + bytes(3))
    with pytest.raises(ImageError) as caught:
        load_image_file(path)
    reason = str(caught.value)
    assert "b'" not in reason and 'b"' not in reason and len(reason) <= 200, reason


@pytest.mark.parametrize(("offset", "size"), [(18, "-4×4"), (22, "4×-4 is top-down")])
def test_a_bmp_with_a_negative_width_is_called_corrupt_not_a_decompression_bomb(
    tmp_path: Path, offset: int, size: str
) -> None:
    """Pillow reads a BMP's negative width as unsigned (4294967292); a negative height is a valid
    top-down BMP and still decodes."""
    from PIL import Image

    path = tmp_path / "a.bmp"
    Image.new("RGB", (4, 4), "red").save(path, "BMP")
    data = bytearray(path.read_bytes())
    data[offset : offset + 4] = struct.pack("<i", -4)
    path.write_bytes(bytes(data))
    if offset == 22:
        assert load_image_file(path).image.size == (4, 4)
        return
    with pytest.raises(ImageError, match=r"^corrupt image header: size -4×4$"):
        load_image_file(path)


def _chunk(kind: bytes, data: bytes, length: int | None = None) -> bytes:
    size = len(data) if length is None else length
    return struct.pack(">I", size) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@pytest.mark.parametrize("claimed", [0x7FFFFFFF, 0xFFFFFFFF])
def test_a_png_chunk_longer_than_the_file_is_named_not_a_lack_of_memory(tmp_path: Path, claimed: int) -> None:
    """Pillow reads a claimed IDAT length whole before anything else: a 5-KB file saying 4 GB failed
    as "not enough memory", or decoded, by how much memory the worker had (a fuzz round)."""
    png = (tmp_path / "ok.png").open("wb")
    builders.scene(1, (64, 48)).save(png, "PNG")
    png.close()
    data = (tmp_path / "ok.png").read_bytes()
    start = data.index(b"IDAT") - 4
    (idat_length,) = struct.unpack(">I", data[start : start + 4])
    forged = data[:start] + struct.pack(">I", claimed) + data[start + 4 :]
    with pytest.raises(ImageError, match=f"^truncated or corrupt PNG: IDAT chunk claims {claimed:,} bytes"):
        load_image(forged, min_side=224)
    # What the walk must let through: a valid PNG, one with bytes after its end, and an APNG.
    assert load_image(data).width == 64
    assert load_image(data + b"trailing bytes after IEND").width == 64
    frames = [builders.scene(seed, (64, 48)) for seed in (2, 3, 4)]
    frames[0].save(tmp_path / "anim.png", "PNG", save_all=True, append_images=frames[1:])
    assert load_image_file(tmp_path / "anim.png").frames > 1
    assert idat_length > 0


def _with_checksum_broken(data: bytes, kind: bytes) -> bytes:
    end = data.index(kind) + 4 + struct.unpack(">I", data[data.index(kind) - 4 : data.index(kind)])[0] + 4
    return data[: end - 1] + bytes([data[end - 1] ^ 0xFF]) + data[end:]


def test_a_png_with_a_wrong_checksum_on_a_comment_is_read_without_it(tmp_path: Path) -> None:
    """libpng (so every browser) drops an ancillary chunk whose checksum is wrong and shows the
    picture; Pillow refused the whole file ("corrupt PNG file: its header could not be read", a
    fuzz round). A wrong checksum on the header itself still refuses it."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "edited by a buggy tool")
    info.add_itxt("Description", "ünïcode " * 50, zip=True)
    builders.scene(5, (64, 48)).save(tmp_path / "ok.png", "PNG", pnginfo=info)
    data = (tmp_path / "ok.png").read_bytes()
    intact = load_image(data).image
    for kind in (b"tEXt", b"iTXt"):
        mended = load_image(_with_checksum_broken(data, kind))
        assert mended.width == 64
        assert np.array_equal(np.asarray(mended.image), np.asarray(intact))
    both = _with_checksum_broken(_with_checksum_broken(data, b"tEXt"), b"iTXt")
    assert load_image(both).width == 64
    with pytest.raises(ImageError, match="corrupt PNG"):
        load_image(_with_checksum_broken(data, b"IHDR"))


def _bmp(width: int, height: int, compression: int, body: bytes) -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, compression, len(body), 2835, 2835, 256, 0)
    palette = bytes(range(256)) * 4
    offset = 14 + len(info) + len(palette)
    return b"BM" + struct.pack("<IHHI", offset + len(body), 0, 0, offset) + info + palette + body


def test_a_run_length_bmp_too_big_to_decode_in_time_is_refused_at_once() -> None:
    """8388624 × 8 in 1 KB of run-length codes kept Pillow's Python RLE decoder busy for 14 s."""
    runs = bytes([255, 7] * 500) + b"\x00\x01"  # runs, then the end of the bitmap
    with pytest.raises(
        ImageError, match=r"^run-length BMP too large to decode in reasonable time \(8388624×8"
    ):
        load_image(_bmp(8_388_624, 8, 1, runs), min_side=224)
    # Run-length codes may skip most of a picture: a sparse one is small and valid (a review's find).
    skips = bytes([0, 2, 0, 250]) * 8 + b"\x00\x01"  # eight jumps of 250 rows, then the end
    assert load_image(_bmp(3000, 2000, 1, skips)).width == 3000


def test_an_uncompressed_bmp_must_hold_its_pixels() -> None:
    with pytest.raises(ImageError, match=r"^truncated or forged image: the header claims 20000×5000"):
        load_image(_bmp(20_000, 5_000, 0, bytes(1000)), min_side=224)
    rows = bytes(64 * 48)
    assert load_image(_bmp(64, 48, 0, rows)).width == 64


def test_library_words_that_say_nothing_are_put_plainly() -> None:
    import errno

    from sorter_app.core.images import describe

    assert (
        describe(OSError(errno.EINVAL, "Invalid argument"))
        == "an offset or length in the file is out of range"
    )
    assert describe(OSError("decoder error -2")) == "the decoder found corrupt data"
    assert describe(OSError("could not create decoder object")) == "the decoder could not start on this data"
    assert describe(ValueError("Generic Error. Please build `libjxl` from source")) == (
        "the JPEG XL decoder could not read it"
    )
    assert describe(OSError("broken data stream when reading image file")) == (
        "broken data stream when reading image file"
    )


def _reason(path: str) -> str:
    try:
        load_image_file(path, min_side=224)
    except ImageError as error:
        return str(error)
    return "decoded"


@pytest.mark.skipif(sys.platform == "win32", reason="no address-space limit there")
def test_a_tiny_file_whose_header_asks_for_gigabytes_is_called_corrupt_not_short_of_memory(
    tmp_path: Path,
) -> None:
    """A 126-byte icon whose bitmap header claims 30000 × 60000 at 32 bits: in a decode worker
    (its memory capped) Pillow's allocation fails while the file is opened, and "not enough
    memory" blamed the machine (a fuzz round)."""
    directory = struct.pack("<HHH", 0, 1, 1) + struct.pack("<BBBBHHII", 16, 16, 0, 0, 1, 32, 104, 22)
    bitmap = struct.pack("<IiiHHIIiiII", 40, 30_000, 60_000, 1, 32, 0, 0, 0, 0, 0, 0)
    path = tmp_path / "forged.ico"
    path.write_bytes(directory + bitmap + bytes(126 - len(directory) - len(bitmap)))
    with DecodePool(1, memory_bytes=1024**3) as pool:
        assert (
            pool.call(_reason, str(path))
            == "corrupt image header: it claims far more data than the file holds"
        )


def _with_tag(path: Path, tag: int, value: int) -> None:
    """Set a SHORT or LONG entry of a little-endian TIFF's first directory (value inline)."""
    data = bytearray(path.read_bytes())
    (ifd,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, ifd)
    for entry in range(ifd + 2, ifd + 2 + 12 * count, 12):
        found, kind = struct.unpack_from("<HH", data, entry)
        if found == tag:
            struct.pack_into("<H" if kind == 3 else "<I", data, entry + 8, value)
    path.write_bytes(bytes(data))


def test_a_tiff_listing_fewer_strips_than_its_size_needs_is_refused_not_filled_black(tmp_path: Path) -> None:
    """libtiff leaves rows no strip covers black and says nothing: a 64 × 100000 file holding one
    strip of 48 rows was indexed as a picture (a fuzz round)."""
    builders.scene(1, (64, 48)).save(tmp_path / "ok.tif")
    assert load_image_file(tmp_path / "ok.tif").height == 48
    shutil.copyfile(tmp_path / "ok.tif", tmp_path / "tall.tif")
    _with_tag(tmp_path / "tall.tif", 257, 100_000)
    with pytest.raises(
        ImageError, match=r"^truncated or corrupt TIFF: 64×100000 needs [\d,]+ strips, it lists 1$"
    ):
        load_image_file(tmp_path / "tall.tif", min_side=224)
    # Strips and tiles that do cover the picture: as Pillow writes them, and a many-strip file.
    builders.scene(2, (64, 48)).save(tmp_path / "strips.tif", compression="tiff_lzw", tiffinfo={278: 5})
    assert load_image_file(tmp_path / "strips.tif").height == 48


def test_a_large_16_bit_grey_image_is_shrunk_in_its_own_samples_and_keeps_its_scale(tmp_path: Path) -> None:
    """Pillow cannot reduce 16-bit grey, and converting it full size made several float64 copies: a
    valid 11000 × 10900 16-bit PNG ran out of memory (a fuzz round). Now it is box-reduced first,
    and a dark 16-bit picture stays dark (its 0–65535 scale is kept, not stretched)."""
    width, height = 5000, 4000  # 20 MP: over the size at which images are shrunk before conversion
    ramp = np.linspace(0, 20_000, width, dtype=np.float64)  # dark: at most 20000 of 65535
    samples = np.broadcast_to(ramp, (height, width)).astype(np.uint16)
    Image.fromarray(samples).save(tmp_path / "dark16.png")
    loaded = load_image_file(tmp_path / "dark16.png", min_side=224)
    assert (loaded.width, loaded.height) == (width, height)
    assert max(loaded.image.size) < width  # shrunk before its conversion
    grey = np.asarray(loaded.image, np.float64)[..., 0]
    assert abs(grey[:, -3:].mean() - 20_000 / 65_535 * 255) < 2  # the scale kept: ~78, not 255
    assert grey[:, :3].mean() < 2


@pytest.mark.parametrize("cut", [1, 2, 50, 400])
def test_a_jpeg_cut_short_by_even_a_byte_or_two_is_refused(tmp_path: Path, cut: int) -> None:
    """Kept refused on purpose: reading one missing only its end marker as whole (stop 33) let a
    review's 427 of 477 JPEGs cut by up to ~50 bytes through with a wrong last block, and every
    cut CMYK or one-scan-per-colour JPEG through whole; nothing in the decoder tells the cases apart."""
    data = builders.write_jpeg(tmp_path / "whole.jpg", seed=3, size=(640, 480), quality=92).read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[:-cut])
    with pytest.raises(ImageError, match=r"^truncated or corrupt image: the file ends before its image data"):
        load_image_file(tmp_path / "cut.jpg", min_side=224)


def test_a_big_colour_profile_is_read_and_a_text_bomb_is_refused_in_plain_words(tmp_path: Path) -> None:
    """Pillow's 1-MB limit on a PNG's unpacked text refused a valid PNG with a 2-MB printer profile,
    and said so as "Decompressed data too large for PngImagePlugin.MAX_TEXT_CHUNK" (a fuzz round)."""
    profile = np.random.default_rng(0).integers(0, 256, 2 << 20, np.uint8).tobytes()
    builders.scene(2).save(tmp_path / "printer.png", "PNG", icc_profile=profile)
    assert load_image_file(tmp_path / "printer.png", min_side=224).format == "PNG"
    bomb = PngImagePlugin.PngInfo()
    bomb.add_text("Comment", "a" * (40 << 20), zip=True)  # 40 MB unpacked from ~40 KB
    builders.scene(2).save(tmp_path / "bomb.png", "PNG", pnginfo=bomb)
    assert (tmp_path / "bomb.png").stat().st_size < 1 << 20
    with pytest.raises(ImageError) as caught:
        load_image_file(tmp_path / "bomb.png", min_side=224)
    assert str(caught.value) == (
        "unreadable image header: a text or colour-profile chunk unpacks to more than is safe to read"
    )
