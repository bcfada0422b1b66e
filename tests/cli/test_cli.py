"""`sorter` as a script would use it: JSON shapes, exit codes, and a folder full of bad files."""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

from sorter_app.cli import main
from sorter_app.core.model_spec import load_spec
from sorter_app.paths import bundled_model_sidecar
from tests import builders
from tests.privileges import without_root_privileges

GOOD_SEEDS = range(8)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if "--json" in argv and code == 0 else out), err


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    for i in GOOD_SEEDS:
        builders.write_jpeg(folder / f"img{i}.jpg", seed=i)
    return folder


def test_index_similar_status_json(tmp_path: Path, photos: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    code, report, _ = _run(capsys, "index", str(photos), "--json", *data)
    assert code == 0
    assert set(report) >= {"indexed", "reused", "skipped", "seconds", "images_per_second"}
    assert (report["indexed"], report["reused"], report["skipped"]) == (8, 0, [])
    assert report["images_per_second"] > 0

    code, neighbours, _ = _run(
        capsys, "similar", str(photos), str(photos / "img3.jpg"), "-k", "5", "--json", *data
    )
    assert code == 0 and len(neighbours) == 5
    assert all(set(n) == {"path", "similarity"} for n in neighbours)
    assert str(photos.resolve() / "img3.jpg") not in [n["path"] for n in neighbours]
    sims = [n["similarity"] for n in neighbours]
    assert sims == sorted(sims, reverse=True)
    code, _, err = _run(capsys, "similar", str(photos), str(photos / "typo.jpg"), *data)
    assert code == 1 and err == f"sorter: error: no such file: {photos / 'typo.jpg'}\n"  # not "run index"
    odd = photos / os.fsdecode(b"bad-\xff.jpg")  # never indexed; looking it up raised UnicodeEncodeError
    shutil.copyfile(photos / "img3.jpg", odd)
    code, _, err = _run(capsys, "similar", str(photos), str(odd), *data)
    assert code == 1 and "its name is not valid UTF-8" in err and "unexpected" not in err, err
    odd.unlink()

    code, status, _ = _run(capsys, "status", str(photos), "--json", *data)
    assert code == 0
    assert status["usable"] == 8 and status["model_id"] == load_spec(bundled_model_sidecar()).model_id

    code, again, _ = _run(capsys, "index", str(photos), "--json", *data)
    assert (again["indexed"], again["reused"]) == (0, 8)
    # The common options before the command too, as README says every command takes them.
    code, before, _ = _run(capsys, "--json", *data, "status", str(photos))
    assert code == 0 and {**before, "indexed_at": None} == {**status, "indexed_at": None}
    code, after, _ = _run(capsys, *data, "status", str(photos))  # the defaults still apply
    assert code == 0 and not after.lstrip().startswith("{") and "8" in after


def test_rename_and_move_reembed_nothing(
    tmp_path: Path, photos: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    _run(capsys, "index", str(photos), "--json", *data)
    (photos / "img0.jpg").rename(photos / "beach.jpg")
    (photos / "2024").mkdir()
    (photos / "img1.jpg").rename(photos / "2024" / "img1.jpg")
    code, report, _ = _run(capsys, "index", str(photos), "--json", *data)
    assert code == 0 and (report["indexed"], report["reused"], report["removed"]) == (0, 8, 2)


def test_data_dir_from_environment(
    tmp_path: Path, photos: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SORTER_DATA_DIR", str(tmp_path / "elsewhere"))
    code, _, _ = _run(capsys, "index", str(photos), "--json")
    assert code == 0
    assert (tmp_path / "elsewhere" / "catalog.sqlite").is_file()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["similar", "{photos}", "{photos}/img0.jpg"], "not indexed yet"),
        (["index", "{tmp}/does-not-exist"], "not a folder"),
        (["status", "{photos}"], "not indexed yet"),
    ],
)
def test_failures_exit_1_with_one_line(
    tmp_path: Path, photos: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    args = [a.format(photos=photos, tmp=tmp_path) for a in argv] + ["--data-dir", str(tmp_path / "data")]
    code, _, err = _run(capsys, *args)
    assert code == 1
    assert message in err and err.count("\n") == 1


def test_query_outside_folder_and_unindexed_image_fail_cleanly(
    tmp_path: Path, photos: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    _run(capsys, "index", str(photos), *data)
    outside = builders.write_jpeg(tmp_path / "outside.jpg", 50)
    assert _run(capsys, "similar", str(photos), str(outside), *data)[0] == 1
    assert _run(capsys, "similar", str(photos), str(photos / "nope.jpg"), *data)[0] == 1


@pytest.mark.parametrize("argv", [[], ["index"], ["frobnicate", "x"], ["similar", "a", "b", "-k", "zero"]])
def test_usage_errors_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2


# --- the salted folder: every bad case, next to good files in every awkward mode -----------------


def _build_salted_folder(folder: Path) -> tuple[set[str], dict[str, str]]:
    """Returns (relpaths that must be indexed, relpath → expected start of the skip reason)."""
    good: set[str] = set()
    for i in range(4):
        good.add(builders.write_jpeg(folder / f"good{i}.jpg", seed=100 + i).name)
    good |= {
        builders.write_cmyk_jpeg(folder / "cmyk.jpg", 1).name,
        builders.write_16bit_png(folder / "sixteen.png").name,
        builders.write_palette_alpha_png(folder / "palette.png", 2).name,
        builders.write_rgba_png(folder / "alpha.png", 3).name,
        builders.write_animated_gif(folder / "animated.gif", 4).name,
        builders.write_exif_rotated_jpeg(folder / "rotated.jpg").name,
        builders.write_jpeg(folder / "big.jpg", seed=7, size=(4000, 3000)).name,
    }
    builders.write_jpeg(folder / "nested" / "deep.jpg", seed=8)
    good.add("nested/deep.jpg")
    bad = {
        builders.write_truncated_jpeg(folder / "truncated.jpg").name: "truncated or corrupt image",
        builders.write_zero_bytes(folder / "empty.jpg").name: "empty file",
        builders.write_not_an_image(folder / "notes.png").name: "not an image",
        builders.write_png_bomb(folder / "bomb.png").name: "image too large to decode safely",
        builders.write_jpeg(folder / "unreadable.jpg", seed=9).name: "cannot read",
        "locked": "cannot open folder",
        "nested/loop": "symlink loop",
        "self.jpg": "symlink loop",
        "dangling.jpg": "broken symlink",
        "caf\ufffd.jpg": "name is not valid UTF-8",
    }
    builders.write_jpeg(folder / "locked" / "hidden-inside.jpg", seed=10)
    (folder / "unreadable.jpg").chmod(0)
    (folder / "locked").chmod(0)
    os.symlink(folder, folder / "nested" / "loop")
    os.symlink("self.jpg", folder / "self.jpg")
    os.symlink(folder / "gone.jpg", folder / "dangling.jpg")
    builders.write_jpeg(folder / os.fsdecode(b"caf\xe9.jpg"), seed=11)
    (folder / "README.txt").write_text("ignored: not an image extension")
    return good, bad


def test_salted_folder_names_each_bad_file_and_indexes_every_good_one(tmp_path: Path) -> None:
    folder = tmp_path / "salted"
    good, bad = _build_salted_folder(folder)
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "sorter_app.cli",
                "index",
                str(folder),
                "--json",
                "--data-dir",
                str(tmp_path / "data"),
            ],
            capture_output=True,
            text=True,
            preexec_fn=without_root_privileges,
            timeout=300,
        )
    finally:
        (folder / "unreadable.jpg").chmod(0o644)
        (folder / "locked").chmod(0o755)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    root = folder.resolve()
    skipped = {str(Path(s["path"]).relative_to(root)): s["reason"] for s in report["skipped"]}
    assert set(skipped) == set(bad)
    for relpath, reason in bad.items():
        assert skipped[relpath].startswith(reason), (relpath, skipped[relpath])
        assert "\n" not in skipped[relpath]
    assert report["indexed"] == len(good)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_decoders_complaints_stay_out_of_the_terminal(tmp_path: Path) -> None:
    """A damaged file's reason is in the report; the decoder's own warning on stderr flooded the
    terminal (450 KB over a fuzz corpus). SORTER_DEBUG brings them back."""
    folder = tmp_path / "noisy"
    builders.write_jpeg(folder / "good.jpg", seed=1)
    png = io.BytesIO()
    frames = [builders.scene(seed, (64, 48)) for seed in (2, 3)]
    frames[0].save(png, "PNG", save_all=True, append_images=frames[1:])
    data = png.getvalue()
    first = data.index(b"acTL") - 4
    actl = _png_chunk(b"acTL", struct.pack(">II", 0x7FFFFFFF, 0))  # a second one: 2^31 frames
    (folder / "odd.png").write_bytes(data[:first] + actl + data[first:])

    def index(debug: bool) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != "SORTER_DEBUG"} | (
            {"SORTER_DEBUG": "1"} if debug else {}
        )
        data_dir = tmp_path / ("debug" if debug else "data")
        argv = [sys.executable, "-m", "sorter_app.cli", "index", str(folder), "--data-dir", str(data_dir)]
        return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)

    quiet = index(debug=False)
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert "Invalid APNG" in index(debug=True).stderr


def test_indexing_writes_nothing_in_the_home_folder(tmp_path: Path) -> None:
    """onnxruntime's wheel keeps a telemetry store (a device id, usage events naming the OS, CPU
    and memory) under ~/.cache at import; a hostile-corpus round found every run writing to it."""
    folder, home = tmp_path / "photos", tmp_path / "home"
    home.mkdir()
    builders.write_jpeg(folder / "a.jpg", seed=1)
    builders.write_jpeg(folder / "b.jpg", seed=2)
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_CACHE_HOME", "ORT_DISABLE_TELEMETRY")}
    env["HOME"] = str(home)
    for command in (["index", str(folder)], ["predict", str(folder)]):
        argv = [
            sys.executable,
            "-m",
            "sorter_app.cli",
            *command,
            "--json",
            "--data-dir",
            str(tmp_path / "data"),
        ]
        result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
        assert result.returncode == 0, result.stderr
    assert sorted(p.relative_to(home).as_posix() for p in home.rglob("*")) == []
