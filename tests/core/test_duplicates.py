"""Duplicates on real photos and their edited copies: nothing unrelated grouped, edits found.

The big fixture builds what a photo dump holds: ten real photos, each with a byte copy, JPEG
re-encodes, a half-size copy, a 90 % centre crop, a mirror image, a 75 % crop off centre, a 5 %
border and a 3° turn; one more real photo with only a byte copy; and thirty unrelated real photos,
some of the same kinds of scene (cloudy skies, deserts). Truth: two files are duplicates iff they
derive from the same original.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from PIL import Image

from sorter_app.core.duplicates import DuplicateGroup
from sorter_app.core.library import Library
from sorter_app.paths import bundled_model_sidecar
from tests import builders

OLD = 1_560_000_000  # 2019: when the originals were taken
NEW = 1_700_000_000  # 2023: when the edited copies were made


@dataclass(frozen=True)
class EditedPhotos:
    folder: Path
    family: dict[str, int | None]  # file name → index of the original it derives from (None: unrelated)
    edit: dict[str, str]  # file name → "original", "copy", "jpeg q90", ... (family members only)
    groups: list[DuplicateGroup]  # at the default threshold
    library: Library  # open for the module, to ask again with other thresholds

    def group_of(self, name: str) -> int | None:
        return next((i for i, g in enumerate(self.groups) if name in g.paths), None)

    def together(self, a: str, b: str) -> bool:
        group = self.group_of(a)
        return group is not None and group == self.group_of(b)

    def member(self, family: int, edit: str) -> str:
        return next(n for n, e in self.edit.items() if e == edit and self.family[n] == family)

    @property
    def edited_families(self) -> list[int]:
        """The originals that have every kind of edit (not the one with only a byte copy)."""
        return sorted(self.family[n] or 0 for n, e in self.edit.items() if e == "flip")

    @property
    def copied_families(self) -> list[int]:
        return sorted(self.family[n] or 0 for n, e in self.edit.items() if e == "copy")


def _photos(datasets: Path, source: str) -> list[Path]:
    return sorted(p for p in (datasets / source).rglob("*.jpg"))


@pytest.fixture(scope="module")
def edited_photos(datasets: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EditedPhotos]:
    alek = _photos(datasets, "indoor_outdoor_alek/outdoor")  # 600 px stock-style photos
    sun = {c: _photos(datasets, f"sun8_scenes/outdoor/{c}") for c in ("campus", "desert", "sky", "airport")}
    sun |= {c: _photos(datasets, f"sun8_scenes/indoor/{c}") for c in ("kitchen", "auditorium")}
    originals = alek[0:250:50] + [sun[c][3] for c in ("campus", "desert", "sky", "kitchen", "auditorium")]
    # Different files from the same sources (never the originals' indices), plus other categories.
    unrelated = alek[25:400:50][:8] + alek[260:400:20][:7]
    unrelated += [sun[c][i] for c in sun for i in (10, 20)][:11]
    unrelated += [sun["airport"][i] for i in (5, 15, 25, 35)]
    chosen = [*originals, alek[390], *unrelated]
    assert len({p.read_bytes() for p in chosen}) == len(chosen), "the chosen photos must all differ"

    tmp = tmp_path_factory.mktemp("duplicates")
    folder = tmp / "photos"
    family: dict[str, int | None] = {}
    edit: dict[str, str] = {}
    for n, original in enumerate(originals):
        files = builders.write_edited_copies(original, folder, f"photo{n:02d}")
        files |= builders.write_hard_edits(original, folder, f"photo{n:02d}")
        for kind, path in files.items():
            family[path.name], edit[path.name] = n, kind
            when = OLD if kind in ("original", "copy") else NEW
            os.utime(path, (when, when))
    lonely = len(originals)  # a photo with a byte copy and no edits: its group stays "exact"
    for kind, name in (("original", f"photo{lonely:02d}.jpg"), ("copy", f"photo{lonely:02d} copy.jpg")):
        shutil.copyfile(alek[390], folder / name)
        os.utime(folder / name, (OLD, OLD))
        family[name], edit[name] = lonely, kind
    for n, photo in enumerate(unrelated):
        name = f"other{n:02d}.jpg"
        shutil.copyfile(photo, folder / name)
        family[name] = None
    with Library(tmp / "data", bundled_model_sidecar()) as library:
        report = library.index(folder)
        distinct = len({(folder / name).read_bytes() for name in family})
        # Byte copies are embedded once per run: the second is reused, not embedded again.
        assert (report.indexed, report.reused, report.skipped) == (distinct, len(family) - distinct, [])
        yield EditedPhotos(folder, family, edit, library.duplicates(folder), library)


def _pairwise(photos: EditedPhotos) -> tuple[float, float]:
    """(precision, recall) over every pair of files: same group vs same original."""
    tp = fp = fn = 0
    for a, b in itertools.combinations(sorted(photos.family), 2):
        truth = photos.family[a] is not None and photos.family[a] == photos.family[b]
        found = photos.together(a, b)
        tp += truth and found
        fp += found and not truth
        fn += truth and not found
    return tp / (tp + fp), tp / (tp + fn)


def test_no_unrelated_photo_is_grouped_and_no_two_families_merge(edited_photos: EditedPhotos) -> None:
    precision, recall = _pairwise(edited_photos)
    print(f"\nduplicates on edited real photos: pairwise precision {precision:.3f}, recall {recall:.3f}")
    for group in edited_photos.groups:
        assert {edited_photos.family[p] for p in group.paths} != {None}, group
        assert len({edited_photos.family[p] for p in group.paths}) == 1, group
    assert precision == 1.0


def test_pairwise_recall_is_high(edited_photos: EditedPhotos) -> None:
    _, recall = _pairwise(edited_photos)
    assert recall >= 0.97  # measured 1.000


@pytest.mark.parametrize(
    ("edit", "floor"),
    [(e, 1.0) for e in builders.EDITS] + [(e, 0.9) for e in builders.HARD_EDITS],  # measured: all 1.0
)
def test_each_kind_of_edit_joins_its_original(edited_photos: EditedPhotos, edit: str, floor: float) -> None:
    families = edited_photos.edited_families
    found = [
        f
        for f in families
        if edited_photos.together(edited_photos.member(f, "original"), edited_photos.member(f, edit))
    ]
    recall = len(found) / len(families)
    print(f"\n{edit}: recall {recall:.2f} (missed in families {sorted(set(families) - set(found))})")
    assert recall >= floor


def test_no_file_is_in_two_groups(edited_photos: EditedPhotos) -> None:
    paths = [p for g in edited_photos.groups for p in g.paths]
    assert len(paths) == len(set(paths))


def test_near_groups_absorb_byte_copies(edited_photos: EditedPhotos) -> None:
    """A byte copy is always with its original; an exact group is left only when no edit joined."""
    tiers = []
    for n in edited_photos.copied_families:
        original, copy = f"photo{n:02d}.jpg", edited_photos.member(n, "copy")
        assert edited_photos.together(original, copy)
        group = edited_photos.groups[edited_photos.group_of(original) or 0]
        expected = "exact" if sorted(group.paths) == sorted([original, copy]) else "near"
        assert group.tier == expected, group
        tiers.append(group.tier)
    assert tiers.count("exact") == 1  # the photo with no edits


def test_exact_groups_hold_only_identical_bytes(edited_photos: EditedPhotos) -> None:
    for group in edited_photos.groups:
        if group.tier == "exact":
            assert len({(edited_photos.folder / p).read_bytes() for p in group.paths}) == 1


def _pixels(path: Path) -> int:
    with Image.open(path) as img:
        return img.width * img.height


def test_keep_is_a_full_size_copy_never_a_resize_crop_or_border(edited_photos: EditedPhotos) -> None:
    """The keep rule itself is tested in test_keeper.py; here, on real edited photos, it never
    keeps a copy that lost pixels, nor one that only gained a border (its margins hold no picture)."""
    for group in edited_photos.groups:
        unbordered = [p for p in group.paths if not edited_photos.edit[p].startswith("border")]
        most = max(_pixels(edited_photos.folder / p) for p in unbordered)
        assert _pixels(edited_photos.folder / group.keep) == most, group
        assert edited_photos.edit[group.keep] not in ("resize 50%", "crop 90%", "border 5%")


def test_why_names_the_rule_that_decided(edited_photos: EditedPhotos) -> None:
    for group in edited_photos.groups:
        if group.tier == "exact":  # identical bytes and times: the copy's name decides, never "oldest"
            assert group.why.startswith("name without “copy”"), group
            assert "older" not in group.why and "oldest" not in group.why
            continue
        with Image.open(edited_photos.folder / group.keep) as img:
            assert group.why.startswith(f"largest resolution ({img.width}×{img.height} vs "), group


@pytest.mark.parametrize("threshold", [0.97, 0.99])
def test_every_near_duplicate_reaches_the_threshold_asked_for(
    edited_photos: EditedPhotos, threshold: float
) -> None:
    """A group is joined by pairs ≥ threshold, so each member has a partner at least that close."""
    vectors = edited_photos.library.folder_vectors(edited_photos.folder)
    item = {p: i for i, paths in enumerate(vectors.paths) for p in paths}
    sims = vectors.vectors @ vectors.vectors.T
    for group in edited_photos.library.duplicates(edited_photos.folder, threshold):
        members = sorted({item[p] for p in group.paths})
        for i in members if group.tier == "near" else []:
            best = max(float(sims[i, j]) for j in members if j != i)
            assert best >= threshold, (vectors.paths[i], round(best, 3))


def test_near_groups_say_what_their_copies_look_like(edited_photos: EditedPhotos) -> None:
    for n in edited_photos.edited_families:
        group = edited_photos.groups[edited_photos.group_of(f"photo{n:02d}.jpg") or 0]
        assert group.tier == "near"
        assert {"flipped", "cropped", "rotated", "re-encoded"} <= set(group.edits), group.edits


def test_look_alikes_are_similar_never_duplicates(datasets: Path, tmp_path: Path) -> None:
    """Different cloudy skies the embedding puts very close (cosine ≥ 0.93): a similar group, no
    copy to keep; a byte copy beside them is an exact group."""
    folder = tmp_path / "photos"
    skies = builders.copy_look_alike_skies(datasets, folder)
    shutil.copyfile(folder / skies[0], folder / "copy.jpg")
    with Library(tmp_path / "data", bundled_model_sidecar()) as library:
        library.index(folder)
        tiers = library.duplicate_tiers(folder)
    assert [(g.tier, g.paths) for g in tiers.groups] == [("exact", ["copy.jpg", skies[0]])]
    assert len(tiers.similar) == 1 and set(tiers.similar[0].paths) >= set(skies)
    assert tiers.similar[0].similarity >= 0.9


def test_a_catalog_indexed_before_keeps_the_old_rule(edited_photos: EditedPhotos, tmp_path: Path) -> None:
    """Version-1 layouts (256 bytes) are judged as before: embedding and whole-image correlation.
    Re-encodes and flips are still found; 75 % crops, which the old rule missed, are not."""
    folder = tmp_path / "photos"
    shutil.copytree(edited_photos.folder, folder)
    with Library(tmp_path / "data", bundled_model_sidecar()) as library:
        library.index(folder)
        vectors = library.folder_vectors(folder)
        old = []
        for key, paths in zip(vectors.keys, vectors.paths, strict=True):
            info = library.catalog.image_info(key)
            assert info is not None
            with Image.open(folder / paths[0]) as img:
                legacy = img.convert("L").resize((16, 16), Image.Resampling.BOX).tobytes()
            old.append(replace(info, layout=legacy))
        with library.catalog.transaction():
            library.catalog.upsert_images(old)
        groups = library.duplicates(folder)
    group_of = {p: i for i, g in enumerate(groups) for p in g.paths}
    for n in edited_photos.edited_families:
        original = group_of.get(f"photo{n:02d}.jpg")
        assert original is not None
        for edit in ("jpeg q70", "flip"):
            assert group_of.get(edited_photos.member(n, edit)) == original
    crops = [group_of.get(edited_photos.member(n, "crop 75%")) for n in edited_photos.edited_families]
    assert crops.count(None) >= len(crops) // 2
    for group in groups:
        assert len({edited_photos.family[p] for p in group.paths}) == 1, group


# --- always running: built scenes, no shared datasets needed ---------------------------------------


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Library]:
    with Library(tmp_path / "data", bundled_model_sidecar()) as lib:
        yield lib


def test_exact_copies_are_one_exact_group_that_keeps_the_original_name(
    tmp_path: Path, library: Library
) -> None:
    folder = tmp_path / "photos"
    first = builders.write_jpeg(folder / "beach.jpg", seed=1)
    for name in ("beach copy.jpg", "sub/beach.jpg"):
        (folder / name).parent.mkdir(exist_ok=True)
        shutil.copyfile(first, folder / name)
    for name, when in (("beach.jpg", NEW), ("beach copy.jpg", NEW + 60), ("sub/beach.jpg", OLD)):
        os.utime(folder / name, (when, when))
    builders.write_jpeg(folder / "forest.jpg", seed=2)
    builders.write_jpeg(folder / "city.jpg", seed=3)
    library.index(folder)
    groups = library.duplicates(folder)
    assert len(groups) == 1
    (group,) = groups
    assert (group.tier, group.keep) == ("exact", "beach.jpg")
    assert group.paths == ["beach copy.jpg", "beach.jpg", "sub/beach.jpg"]
    assert group.why.startswith("name without “copy”") and "then shorter path" in group.why


def test_unrelated_scenes_are_never_grouped(tmp_path: Path, library: Library) -> None:
    folder = tmp_path / "photos"
    for seed in range(12):
        builders.write_jpeg(folder / f"scene{seed:02d}.jpg", seed=seed)
    library.index(folder)
    assert library.duplicates(folder) == []


def test_a_bigger_file_of_the_same_resolution_is_kept(tmp_path: Path, library: Library) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    builders.scene(5, (480, 360)).save(folder / "fine.jpg", "JPEG", quality=95)
    builders.scene(5, (480, 360)).save(folder / "rough.jpg", "JPEG", quality=60)
    library.index(folder)
    (group,) = library.duplicates(folder)
    assert (group.tier, group.keep, group.paths) == ("near", "fine.jpg", ["fine.jpg", "rough.jpg"])
    assert group.why.startswith("same dimensions and format; larger file (")


def test_a_larger_resolution_beats_a_bigger_file(tmp_path: Path, library: Library) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    builders.scene(6, (640, 480)).save(folder / "large.jpg", "JPEG", quality=40)
    builders.scene(6, (640, 480)).resize((320, 240)).save(folder / "small.jpg", "JPEG", quality=100)
    library.index(folder)
    (group,) = library.duplicates(folder)
    assert (group.tier, group.keep) == ("near", "large.jpg")
    assert group.why == "largest resolution (640×480 vs 320×240)"


@pytest.mark.parametrize("images", [0, 1])
def test_an_empty_or_one_image_folder_has_no_duplicates(
    tmp_path: Path, library: Library, images: int
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for n in range(images):
        builders.write_jpeg(folder / f"img{n}.jpg", seed=n)
    library.index(folder)
    assert library.duplicates(folder) == []
