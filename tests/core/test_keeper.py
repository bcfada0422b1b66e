"""The duplicate keeper on real files: it never gives a false reason and keeps the original."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from sorter_app.core.catalog import FileFacts
from sorter_app.core.keeper import (
    Candidate,
    candidates,
    choose_keep,
    copy_folder,
    in_folders,
    is_copy_name,
    keep_choices,
    read_header,
)
from sorter_app.core.model_input import prepare_model_input
from sorter_app.core.model_spec import load_spec
from sorter_app.paths import bundled_model_sidecar
from tests import builders

WHEN = 1_600_000_000


def facts_of(root: Path, relpaths: list[str]) -> dict[str, FileFacts]:
    out = {}
    for rel in relpaths:
        st = (root / rel).stat()
        with Image.open(root / rel) as img:
            out[rel] = FileFacts(rel, st.st_size, st.st_mtime_ns, img.width, img.height)
    return out


def decide(root: Path, relpaths: list[str], references: list[str] | None = None) -> tuple[str, str]:
    (choice,) = keep_choices([relpaths], facts_of(root, relpaths), root, references or [])
    return choice.keep, choice.why


def test_identical_copies_at_equal_times_keep_the_original_name_never_oldest(
    tmp_path: Path,
) -> None:
    original = builders.write_camera_jpeg(tmp_path / "IMG_0001.jpg")
    (tmp_path / "Backup").mkdir()
    shutil.copyfile(original, tmp_path / "Backup" / "copy_of_IMG_0001.jpg")
    for rel in ("IMG_0001.jpg", "Backup/copy_of_IMG_0001.jpg"):
        os.utime(tmp_path / rel, (WHEN, WHEN))
    keep, why = decide(tmp_path, ["Backup/copy_of_IMG_0001.jpg", "IMG_0001.jpg"])
    assert keep == "IMG_0001.jpg"
    assert why.startswith("name without “copy”") and "old" not in why


def test_a_bigger_png_re_encode_loses_to_the_camera_jpeg(tmp_path: Path) -> None:
    builders.write_camera_jpeg(tmp_path / "beach.jpg")
    with Image.open(tmp_path / "beach.jpg") as img:
        img.convert("RGB").save(tmp_path / "beach.png", "PNG")
    assert (tmp_path / "beach.png").stat().st_size > (tmp_path / "beach.jpg").stat().st_size
    keep, why = decide(tmp_path, ["beach.png", "beach.jpg"])
    assert keep == "beach.jpg"
    assert why == "original format (JPEG; PNG is a re-encode)"


def test_the_copy_with_camera_exif_beats_a_stripped_re_save(tmp_path: Path) -> None:
    builders.write_camera_jpeg(tmp_path / "a" / "photo.jpg")
    with Image.open(tmp_path / "a" / "photo.jpg") as img:
        # Same quality (so the lattice cannot tell a re-save), no EXIF, and bigger by a comment.
        img.save(tmp_path / "photo-edit.jpg", "JPEG", quality=85, comment=b"edited " * 1000)
    assert (tmp_path / "photo-edit.jpg").stat().st_size > (tmp_path / "a" / "photo.jpg").stat().st_size
    keep, why = decide(tmp_path, ["a/photo.jpg", "photo-edit.jpg"])
    assert keep == "a/photo.jpg"
    assert why == "has the camera's EXIF (Canon EOS 80D)"


def test_a_larger_resolution_still_wins_first(tmp_path: Path) -> None:
    builders.scene(4, (640, 480)).save(tmp_path / "big.png", "PNG")
    builders.write_camera_jpeg(tmp_path / "small.jpg", seed=4, size=(320, 240))
    keep, why = decide(tmp_path, ["big.png", "small.jpg"])
    assert (keep, why) == ("big.png", "largest resolution (640×480 vs 320×240)")


def test_reference_folders_win_over_every_other_rule(tmp_path: Path) -> None:
    builders.scene(4, (320, 240)).save(tmp_path / "x.png", "PNG")
    (tmp_path / "Originals").mkdir()
    builders.scene(4, (160, 120)).save(tmp_path / "Originals" / "x copy.jpg", "JPEG")
    keep, why = decide(tmp_path, ["x.png", "Originals/x copy.jpg"], references=["Originals"])
    assert keep == "Originals/x copy.jpg" and why == "in a reference folder (Originals)"


def test_a_real_tie_says_so_instead_of_inventing_a_reason(tmp_path: Path) -> None:
    first = builders.write_jpeg(tmp_path / "one" / "a.jpg", seed=1)
    (tmp_path / "two").mkdir()
    shutil.copyfile(first, tmp_path / "two" / "a.jpg")
    for rel in ("one/a.jpg", "two/a.jpg"):
        os.utime(tmp_path / rel, (WHEN, WHEN))
    keep, why = decide(tmp_path, ["two/a.jpg", "one/a.jpg"])
    assert keep == "one/a.jpg"
    assert why == "the copies are alike by every rule; first by name"


def test_older_decides_only_when_the_times_differ(tmp_path: Path) -> None:
    first = builders.write_jpeg(tmp_path / "p" / "a.jpg", seed=1)
    (tmp_path / "q").mkdir()
    shutil.copyfile(first, tmp_path / "q" / "a.jpg")
    os.utime(tmp_path / "p" / "a.jpg", (WHEN + 86_400, WHEN + 86_400))
    os.utime(tmp_path / "q" / "a.jpg", (WHEN, WHEN))
    keep, why = decide(tmp_path, ["p/a.jpg", "q/a.jpg"])
    assert keep == "q/a.jpg" and why.startswith("older (")


@pytest.mark.parametrize(
    ("name", "copy"),
    [
        ("IMG_1.jpg", False),
        ("IMG_1 copy.jpg", True),
        ("IMG_1 - Copy (2).jpg", True),
        ("copy_of_IMG_1.jpg", True),
        ("IMG_1 (1).jpg", True),
        ("IMG_1_copy3.jpg", True),
        ("Kopie von IMG_1.jpg", True),
        ("copyright-notice.jpg", False),
        ("photocopy.jpg", False),
        ("2019 (holiday).jpg", False),
        ("Party (2019).jpg", False),
    ],
)
def test_copy_names(name: str, copy: bool) -> None:
    assert is_copy_name(f"folder/{name}") is copy


@pytest.mark.parametrize(
    ("relpath", "folder"),
    [
        ("backup/x.jpg", "backup"),
        ("old backups/2019/x.jpg", "old backups"),
        ("Photos - Copy/a/x.jpg", "Photos - Copy"),
        ("a/Sicherung/x.jpg", "a/Sicherung"),
        ("Kopie von Fotos/x.jpg", "Kopie von Fotos"),
        ("Photos (1)/x.jpg", None),  # a folder's number is as often "Kids (2)" as a copy
        ("Season 2 (03)/x.jpg", None),
        ("Duplicates/x.jpg", "Duplicates"),
        ("rooms/places/x.jpg", None),
        ("backyard/x.jpg", None),
        ("feedback/x.jpg", None),
        ("Holiday (2019)/x.jpg", None),
        ("x.jpg", None),
    ],
)
def test_copy_folders(relpath: str, folder: str | None) -> None:
    assert copy_folder(relpath) == folder


def test_a_shallow_backup_loses_to_the_organised_copy(tmp_path: Path) -> None:
    """Byte-identical copies at one time: before, "shorter path" kept backup/x.jpg."""
    original = builders.write_camera_jpeg(tmp_path / "rooms" / "places" / "00000032.jpg")
    (tmp_path / "backup").mkdir()
    shutil.copyfile(original, tmp_path / "backup" / "00000032.jpg")
    rels = ["backup/00000032.jpg", "rooms/places/00000032.jpg"]
    for rel in rels:
        os.utime(tmp_path / rel, (WHEN, WHEN))
    keep, why = decide(tmp_path, rels)
    assert (keep, why) == ("rooms/places/00000032.jpg", "not in a backup or copy folder (backup/ is one)")


def test_a_better_copy_in_a_backup_folder_is_still_kept(tmp_path: Path) -> None:
    """The folder rule only separates copies alike in size (a review's find: before "larger file",
    it kept a 45-KB q60 copy over the 202-KB q95 original in Backup/)."""
    with Image.open(builders.write_camera_jpeg(tmp_path / "src.jpg", size=(640, 480))) as img:
        picture = img.convert("RGB")
    (tmp_path / "Backup").mkdir()
    picture.save(tmp_path / "Backup" / "x.jpg", "JPEG", quality=95)
    (tmp_path / "Photos").mkdir()
    picture.save(tmp_path / "Photos" / "x.jpg", "JPEG", quality=60)
    keep, why = decide(tmp_path, ["Backup/x.jpg", "Photos/x.jpg"])
    assert keep == "Backup/x.jpg" and why.startswith("same dimensions and format; larger file"), why


def test_hostile_or_missing_files_only_switch_off_the_header_rules(tmp_path: Path) -> None:
    (tmp_path / "junk.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    assert read_header(tmp_path / "junk.jpg") == (None, None)
    assert read_header(tmp_path / "gone.jpg") == (None, None)
    facts = {
        "junk.jpg": FileFacts("junk.jpg", 10, WHEN, 10, 10),
        "gone.jpg": FileFacts("gone.jpg", 20, WHEN, 10, 10),
    }
    found = candidates(["junk.jpg", "gone.jpg"], facts, root=tmp_path)
    assert [c.format for c in found] == [None, None]
    assert choose_keep(found).keep == "gone.jpg"  # larger file, a true reason


def test_choose_keep_needs_copies_and_in_folders() -> None:
    with pytest.raises(ValueError):
        choose_keep([])
    assert choose_keep([Candidate("a.jpg", 1, 1, 1, 1)]).keep == "a.jpg"
    assert in_folders("Originals/x.jpg", ["Originals"]) and not in_folders("Originals2/x.jpg", ["Originals"])
    assert in_folders("x.jpg", [""])


def _real_photos(datasets: Path, count: int) -> list[Path]:
    """Real photos of several sizes and sources (600 px stock photos, 320 px rooms, 256 px Places)."""
    found = []
    for folder in ("indoor_outdoor_alek/outdoor", "house_rooms/train/Kitchen", "places365_rooms/bedroom"):
        found += sorted((datasets / folder).rglob("*.jpg"))[: count // 3 + 1]
    return found[:count]


def decide_as_indexed(root: Path, relpaths: list[str]) -> tuple[str, str]:
    """As `Library.duplicate_tiers` decides: with the layouts the indexer stores, files at one time."""
    pre = load_spec(bundled_model_sidecar()).preprocess
    facts, layouts = {}, {}
    for rel in relpaths:
        prepared = prepare_model_input(str(root / rel), pre)
        assert not isinstance(prepared, str)
        facts[rel] = FileFacts(rel, (root / rel).stat().st_size, WHEN, prepared.width, prepared.height)
        layouts[rel] = prepared.layout
    (choice,) = keep_choices([relpaths], facts, root, layouts=layouts)
    return choice.keep, choice.why


@pytest.mark.parametrize(
    ("factor", "method", "fmt"),
    [
        (2.0, Image.Resampling.BICUBIC, "PNG"),
        (1.5, Image.Resampling.LANCZOS, "PNG"),
        (2.0, Image.Resampling.BILINEAR, "WEBP"),
    ],
)
def test_an_enlarged_re_encode_loses_to_the_photo_it_was_made_from(
    tmp_path: Path, datasets: Path, factor: float, method: Image.Resampling, fmt: str
) -> None:
    """More pixels and no detail the original lacks; before, "largest resolution" kept it."""
    for photo in _real_photos(datasets, 6):
        shutil.copyfile(photo, tmp_path / "a.jpg")
        with Image.open(photo) as img:
            big = img.convert("RGB").resize((round(img.width * factor), round(img.height * factor)), method)
        big.save(tmp_path / "b.img", fmt, lossless=True)
        keep, why = decide_as_indexed(tmp_path, ["a.jpg", "b.img"])
        assert (keep, why) == ("a.jpg", "the original of an enlarged copy (b.img is this copy scaled up)"), (
            photo.name
        )


@pytest.mark.parametrize(
    ("photo", "quality", "blur"),
    [
        ("sun8_scenes/outdoor/sky/sun_ajmbtywgllufpemj.jpg", 45, 0.0),
        ("sun8_scenes/outdoor/bamboo_forest/sun_atcmmwqvaguvzvrg.jpg", 60, 1.2),
        ("sun8_scenes/outdoor/sky/sun_asstdswobfucbyir.jpg", 10, 0.0),
    ],
)
def test_a_jpeg_original_is_kept_over_a_smaller_copy_made_from_its_file(
    tmp_path: Path, datasets: Path, photo: str, quality: int, blur: float
) -> None:
    """A JPEG big copy is not tested for being an enlargement. Stop 36 tried it, simulating the big
    one's own compression noise, and a review found originals trashed for their 80 % copies (a sky
    at q45, a soft photo at q60, 352 of 16,032 pairs): a coarse table had already taken what the
    copy lacks. The copy here is made from the original *file*, as an app makes one."""
    with Image.open(datasets / photo) as img:
        original = img.convert("RGB")
    if blur:
        original = original.filter(ImageFilter.GaussianBlur(blur))
    original.save(tmp_path / "b.jpg", "JPEG", quality=quality)
    with Image.open(tmp_path / "b.jpg") as saved:
        decoded = saved.convert("RGB")
    size = (round(decoded.width * 0.8), round(decoded.height * 0.8))
    decoded.resize(size, Image.Resampling.LANCZOS).save(tmp_path / "a.jpg", "JPEG", quality=95)
    keep, why = decide_as_indexed(tmp_path, ["a.jpg", "b.jpg"])
    assert (keep, why.split(" (")[0]) == ("b.jpg", "largest resolution"), why


@pytest.mark.parametrize("blur", [0.0, 0.7])
def test_a_photo_is_kept_over_its_reductions_never_called_an_enlargement(
    tmp_path: Path, datasets: Path, blur: float
) -> None:
    """The costly mistake is the other way round: calling an original an enlargement would keep
    its reduction and trash it. Sharp and softened photos against their 50 % and 80 % reductions."""
    for photo in _real_photos(datasets, 9):
        with Image.open(photo) as img:
            original = (
                img.convert("RGB").filter(ImageFilter.GaussianBlur(blur)) if blur else img.convert("RGB")
            )
        original.save(tmp_path / "b.jpg", "JPEG", quality=90)
        for factor in (0.5, 0.8):
            small = original.resize((round(original.width * factor), round(original.height * factor)))
            small.save(tmp_path / "a.jpg", "JPEG", quality=95)
            keep, why = decide_as_indexed(tmp_path, ["a.jpg", "b.jpg"])
            assert (keep, why.split(" (")[0]) == ("b.jpg", "largest resolution"), (photo.name, factor, why)
            assert "enlarged" not in why


def test_a_bordered_copy_loses_to_the_photo_inside_its_border(tmp_path: Path, datasets: Path) -> None:
    """The border adds pixels, not picture (and saved at a higher quality, its file is larger too)."""
    for photo in _real_photos(datasets, 6):
        shutil.copyfile(photo, tmp_path / "a.jpg")
        with Image.open(photo) as img:
            border = (round(img.width * 0.05), round(img.height * 0.05))
            ImageOps.expand(img.convert("RGB"), border * 2, fill=(250, 250, 250)).save(
                tmp_path / "b.jpg", quality=95
            )
        keep, why = decide_as_indexed(tmp_path, ["a.jpg", "b.jpg"])
        assert keep == "a.jpg", (photo.name, why)
        assert why.startswith("no added margins (b.jpg has a border around the same picture)"), why


def test_a_smooth_or_blurred_original_is_never_called_an_enlargement_of_its_reduction(
    tmp_path: Path, datasets: Path
) -> None:
    """A clear sky, or a photo blurred past its fine detail, is as sharp as its own lossless
    reduction: the pixels cannot tell it from an enlargement, so they must not decide (a review
    found 11 of 168 sky photos trashed for their 80 % PNG reduction)."""
    skies = sorted((datasets / "sun8_scenes/outdoor/sky").glob("*.jpg"))[:20]
    blurred = _real_photos(datasets, 6)
    for photo, blur in [(p, 0.0) for p in skies] + [(p, 1.2) for p in blurred] + [(p, 3.0) for p in blurred]:
        with Image.open(photo) as img:
            original = img.convert("RGB")
        if blur:
            original = original.filter(ImageFilter.GaussianBlur(blur))
        original.save(tmp_path / "a.jpg", quality=92)
        original.resize((round(original.width * 0.8), round(original.height * 0.8))).save(tmp_path / "b.png")
        keep, why = decide_as_indexed(tmp_path, ["a.jpg", "b.png"])
        assert (keep, why.split(" (")[0]) == ("a.jpg", "largest resolution"), (photo.name, blur, why)


def test_a_photo_with_a_clear_sky_is_not_taken_for_a_frame_around_its_crop(
    tmp_path: Path, datasets: Path
) -> None:
    """A review's find: a sky trimmed along the top made the photo "a border around" a crop without
    the sky, or around a 98.5 % reduction, and the photo was trashed."""
    photo = datasets / "indoor_outdoor_alek/outdoor/1 (335).jpg"  # a glider in a clear sky
    shutil.copyfile(photo, tmp_path / "a.jpg")
    with Image.open(photo) as img:
        original = img.convert("RGB")
    w, h = original.size
    copies = {
        "no sky": original.crop((0, 104, w, h)),
        "less sky": original.crop((0, 60, w, h - 44)),
        "98.5 %": original.resize((round(w * 0.985), round(h * 0.985)), Image.Resampling.LANCZOS),
        "99.3 %": original.resize((round(w * 0.993), round(h * 0.993)), Image.Resampling.LANCZOS),
    }
    for name, copy in copies.items():
        copy.save(tmp_path / "b.jpg", quality=97)  # a larger file than the original
        keep, why = decide_as_indexed(tmp_path, ["a.jpg", "b.jpg"])
        assert (keep, why.split(" (")[0]) == ("a.jpg", "largest resolution"), (name, why)


def test_a_file_changed_since_it_was_indexed_is_not_compared(tmp_path: Path, datasets: Path) -> None:
    """The facts said 640 × 426 and 320 × 213; the files are now other sizes. No exception, and the
    pixels of files the facts do not describe decide nothing."""
    photo = _real_photos(datasets, 1)[0]
    with Image.open(photo) as img:
        original = img.convert("RGB")
    original.save(tmp_path / "small.jpg")
    original.resize((original.width * 2, original.height * 2)).save(tmp_path / "big.png")
    facts = {
        "small.jpg": FileFacts("small.jpg", 10, WHEN, original.width, original.height),
        "big.png": FileFacts("big.png", 20, WHEN, original.width * 2, original.height * 2),
    }
    Image.new("RGB", (4000, 4000)).save(tmp_path / "big.png")
    Image.new("RGB", (2, 3)).save(tmp_path / "small.jpg")
    (choice,) = keep_choices([["small.jpg", "big.png"]], facts, tmp_path)
    assert choice.keep == "big.png" and choice.why.startswith("largest resolution")


def test_a_page_or_a_mounted_photo_is_kept_over_its_reduction(tmp_path: Path, datasets: Path) -> None:
    """A second review's find: margins of the original's own (a document page, a photo mounted on
    white) made it "a border around" its 90 % reduction, and the page was trashed for it."""
    pages = sorted((datasets / "non_photo/docbank").rglob("*.jpg"))[:8]
    mounted = []
    for photo in _real_photos(datasets, 4):
        with Image.open(photo) as img:
            pad = (round(img.width * 0.12), round(img.height * 0.12))
            mounted.append(ImageOps.expand(img.convert("RGB"), pad * 2, fill=(255, 255, 255)))
    originals = [Image.open(p).convert("RGB") for p in pages] + mounted
    for n, original in enumerate(originals):
        original.save(tmp_path / "a.jpg", quality=90)
        original.resize((round(original.width * 0.9), round(original.height * 0.9))).save(
            tmp_path / "b.jpg", quality=97
        )
        keep, why = decide_as_indexed(tmp_path, ["a.jpg", "b.jpg"])
        assert (keep, why.split(" (")[0]) == ("a.jpg", "largest resolution"), (n, why)


def test_a_png_original_is_kept_over_a_jpeg_copy_with_a_border(tmp_path: Path, datasets: Path) -> None:
    """The border rule comes before "original format": a camera format does not make a bordered
    JPEG the original of the PNG it was made from."""
    for photo in _real_photos(datasets, 4):
        with Image.open(photo) as img:
            original = img.convert("RGB")
        original.save(tmp_path / "a.png")
        ImageOps.expand(original, (20, 20, 20, 20), fill=(255, 255, 255)).save(tmp_path / "b.jpg", quality=95)
        keep, why = decide_as_indexed(tmp_path, ["a.png", "b.jpg"])
        assert (keep, why) == ("a.png", "no added margins (b.jpg has a border around the same picture)"), (
            photo
        )


@pytest.mark.parametrize("quality", [90, 95, 100])
def test_a_jpeg_saved_again_at_a_higher_quality_loses_to_the_one_it_was_saved_from(
    tmp_path: Path, datasets: Path, quality: int
) -> None:
    """Same size, same format, no EXIF, one time: before, the re-save won on "larger file"."""
    for photo in _real_photos(datasets, 6):
        shutil.copyfile(photo, tmp_path / "b.jpg")
        with Image.open(photo) as img:
            img.convert("RGB").save(tmp_path / "a.jpg", "JPEG", quality=quality)
        assert (tmp_path / "a.jpg").stat().st_size > (tmp_path / "b.jpg").stat().st_size
        keep, why = decide_as_indexed(tmp_path, ["a.jpg", "b.jpg"])
        expected = (
            "not saved again from another copy "
            "(a.jpg carries b.jpg's JPEG compression, saved again at a higher quality)"
        )
        assert (keep, why) == ("b.jpg", expected), photo.name


def test_an_original_is_never_called_a_re_save_of_its_coarser_copy(tmp_path: Path, datasets: Path) -> None:
    """The costly mistake: an original saved at a fine quality (its pixels off any earlier JPEG
    grid) beside a coarser copy made from it must not be taken for that copy saved again."""
    for photo in _real_photos(datasets, 6):
        with Image.open(photo) as img:
            reduced = img.convert("RGB").resize((img.width // 2, img.height // 2), Image.Resampling.LANCZOS)
        reduced.save(tmp_path / "a.jpg", "JPEG", quality=97)
        with Image.open(tmp_path / "a.jpg") as img:
            decoded = img.convert("RGB")
        for quality in (50, 75, 85):
            decoded.save(tmp_path / "b.jpg", "JPEG", quality=quality)
            keep, why = decide_as_indexed(tmp_path, ["a.jpg", "b.jpg"])
            # Nothing tells them apart but the file size, which keeps the original here.
            assert (keep, why.split(" (")[0]) == ("a.jpg", "same dimensions and format; larger file"), (
                photo,
                why,
            )


def _screenshot(seed: int) -> Image.Image:
    """A window grab: a title bar, a side bar and a few lines of text on flat panels, so mostly
    exactly flat 8 × 8 blocks."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (640, 400), (245, 245, 245))
    draw = ImageDraw.Draw(img)
    bar = tuple(int(v) for v in rng.integers(0, 200, 3))
    draw.rectangle((0, 0, 639, 30), fill=bar)
    draw.rectangle((0, 31, 120, 399), fill=(225, 228, 232))
    for y in range(50, 380, 60):
        draw.text((150, y), f"Meeting notes {seed} - Thursday", fill=(30, 30, 30))
    return img


@pytest.mark.parametrize("quality", [50, 75, 88])
def test_a_screenshot_saved_finely_is_never_a_re_save_of_its_own_coarser_copy(
    tmp_path: Path, quality: int
) -> None:
    """A review's find: flat blocks decode exactly, and their DC sat on the lattice of a quality-75
    copy, so 26 of 42 screenshots lost to their copies (now only AC coefficients are compared)."""
    for seed in range(6):
        _screenshot(seed).save(tmp_path / "a.jpg", "JPEG", quality=95)
        with Image.open(tmp_path / "a.jpg") as img:
            img.convert("RGB").save(tmp_path / "b (1).jpg", "JPEG", quality=quality)
        keep, why = decide_as_indexed(tmp_path, ["a.jpg", "b (1).jpg"])
        assert keep == "a.jpg" and "saved again" not in why, (seed, why)


def test_only_tables_that_can_tell_are_decoded(
    tmp_path: Path, datasets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Byte-identical copies and re-saves at one quality share a table: nothing to decode."""
    from sorter_app.core import reencoded

    decoded: list[Path] = []
    real = reencoded.read_quantised

    def counted(path: Path, size: tuple[int, int]) -> reencoded.Quantised | None:
        decoded.append(path)
        return real(path, size)

    monkeypatch.setattr(reencoded, "read_quantised", counted)
    photo = _real_photos(datasets, 1)[0]
    shutil.copyfile(photo, tmp_path / "a.jpg")
    shutil.copyfile(photo, tmp_path / "b.jpg")
    with Image.open(photo) as img:
        img.convert("RGB").save(tmp_path / "c.jpg", "JPEG", quality=75)
        img.convert("RGB").save(tmp_path / "d.jpg", "JPEG", quality=75, comment=b"x" * 100)
    decide_as_indexed(tmp_path, ["c.jpg", "d.jpg"])
    decide_as_indexed(tmp_path, ["a.jpg", "b.jpg"])
    assert decoded == []
    img_q95 = tmp_path / "e.jpg"
    with Image.open(photo) as img:
        img.convert("RGB").save(img_q95, "JPEG", quality=95)
    decide_as_indexed(tmp_path, ["a.jpg", "e.jpg"])
    assert sorted(p.name for p in decoded) == ["a.jpg", "e.jpg"]
