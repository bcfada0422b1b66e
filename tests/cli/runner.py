"""`sorter` run in-process the way a script runs it, for the tests of its error paths.

Every call checks the CLI's promise on stderr: no traceback, and every line a `sorter: …` line.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

import sorter_app.cli as cli
from sorter_app.core.library import Library


class Sorter:
    def __init__(self, capsys: pytest.CaptureFixture[str], data: Path) -> None:
        self.capsys, self.data = capsys, data

    def __call__(self, *argv: str | Path) -> tuple[int, Any, list[str]]:
        """(exit code, the JSON output if it succeeded else the raw output, stderr lines)."""
        code = cli.main([*map(str, argv), "--json", "--data-dir", str(self.data)])
        out, err = self.capsys.readouterr()
        assert "Traceback" not in err
        lines = err.splitlines()
        assert all(line.startswith("sorter: ") for line in lines), err
        return code, (json.loads(out) if code == 0 else out), lines


def annoy_from(monkeypatch: pytest.MonkeyPatch, items: int) -> None:
    """Let folders of `items` images get an Annoy index (the app's threshold is 2,000)."""
    monkeypatch.setattr(cli, "Library", functools.partial(Library, annoy_min_items=items))
