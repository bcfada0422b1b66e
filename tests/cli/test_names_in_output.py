"""File names are data: a newline or an escape sequence in one never reshapes the human output."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sorter_app.cli import main
from sorter_app.cli.output import shown
from tests import builders


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("plain café.jpg", "plain café.jpg"),
        ("two\nlines.jpg", "two\\nlines.jpg"),
        ("tab\there\r.jpg", "tab\\there\\r.jpg"),
        ("red\x1b[31m.jpg", "red\\x1b[31m.jpg"),
        ("gpj.\u202eevil.jpg", "gpj.\\u202eevil.jpg"),
        ("back\\slash.jpg", "back\\\\slash.jpg"),
        (os.fsdecode(b"latin\xe9.jpg"), "latin\\xe9.jpg"),
        ("family 👨\u200d👩\u200d👧.jpg", "family 👨\u200d👩\u200d👧.jpg"),  # joiners are not controls
    ],
)
def test_shown_escapes_what_would_break_a_line(name: str, expected: str) -> None:
    assert shown(name) == expected


def test_index_and_similar_print_one_line_per_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "photos"
    for seed in range(4):
        builders.write_jpeg(folder / f"img{seed}.jpg", seed)
    builders.write_jpeg(folder / "two\nlines.jpg", 7)
    builders.write_truncated_jpeg(folder / "red\x1b[31m.jpg")
    data = ["--data-dir", str(tmp_path / "data")]
    assert main(["index", str(folder), *data]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert out.splitlines()[1:] == [f"  skipped red\\x1b[31m.jpg: {_reason(out)}"]
    assert main(["similar", str(folder), str(folder / "img0.jpg"), "-k", "4", *data]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert any(line.endswith("/two\\nlines.jpg") for line in lines)


def _reason(out: str) -> str:
    return out.splitlines()[1].split(": ", 1)[1]
