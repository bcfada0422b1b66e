"""The commands that produced a run, kept in the run folder so MODELS.md can quote them exactly."""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sorter_app.core.atomic import atomic_write_text

COMMANDS_FILE = "commands.json"


def record_command(run_dir: Path, argv: Sequence[str]) -> None:
    """Append `sorter-train <argv>` to RUN_DIR/commands.json (train, evaluate, export, in order)."""
    commands = read_commands(run_dir)
    commands.append(command_entry(argv))
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / COMMANDS_FILE, json.dumps(commands, indent=2) + "\n")


def record_entry(run_dir: Path, entry: dict[str, Any]) -> None:
    """Append an entry another folder recorded (the cache or selection a run was made from), once."""
    commands = read_commands(run_dir)
    if entry not in commands:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_dir / COMMANDS_FILE, json.dumps([*commands, entry], indent=2) + "\n")


def record_entries_from(run_dir: Path, folders: Sequence[Path]) -> None:
    """`record_entry` of every command the folders recorded: what made the caches (and selections)
    a run is made from, listed before the run's own."""
    for folder in folders:
        for entry in read_commands(folder):
            record_entry(run_dir, entry)


def command_entry(argv: Sequence[str]) -> dict[str, Any]:
    return {"command": shlex.join(["sorter-train", *argv]), "cwd": str(Path.cwd())}


def read_commands(run_dir: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads((run_dir / COMMANDS_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return []
    return list(data) if isinstance(data, list) else []
