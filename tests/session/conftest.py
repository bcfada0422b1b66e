"""A session without a window: real folder, real model, real catalog, jobs run on the spot."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from sorter_app.core.kinds import AnalysisKind
from sorter_app.paths import bundled_model_sidecar
from sorter_app.session import Changes, Session, SyncRunner
from tests import builders

SCENES = 3
FRAMES = 6


class Recorder:
    """Everything the session said, for assertions."""

    def __init__(self, session: Session) -> None:
        self.changes: list[Changes] = []
        self.messages: list[str] = []
        self.errors: list[tuple[str, str]] = []
        session.changed.connect(self.changes.append)
        session.message.connect(self.messages.append)
        session.failed.connect(self.errors.append)


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """Three time-lapse scenes of six frames, one byte copy of a frame, and one truncated JPEG."""
    folder = tmp_path / "photos"
    for scene in range(SCENES):
        for frame in range(FRAMES):
            builders.write_frame(folder / f"s{scene}_f{frame}.jpg", seed=scene + 1, frame=frame)
    (folder / "Backup").mkdir()
    shutil.copyfile(folder / "s0_f0.jpg", folder / "Backup" / "copy_of_s0_f0.jpg")
    builders.write_truncated_jpeg(folder / "broken.jpg")
    return folder


MakeSession = Callable[[], tuple[Session, SyncRunner, Recorder]]


@pytest.fixture
def make_session(tmp_path: Path) -> MakeSession:
    """A new session on the same data folder: what reopening the app is."""

    def make() -> tuple[Session, SyncRunner, Recorder]:
        errors: list[tuple[str, str]] = []
        runner = SyncRunner(
            tmp_path / "data", bundled_model_sidecar(), lambda what, why: errors.append((what, why))
        )
        session = Session(runner, tmp_path / "data")
        recorder = Recorder(session)
        recorder.errors = errors
        session.failed.connect(errors.append)
        session.files.recover()
        return session, runner, recorder

    return make


@pytest.fixture
def opened(make_session: MakeSession, photos: Path) -> tuple[Session, SyncRunner, Recorder]:
    session, runner, recorder = make_session()
    session.open_folder(photos)
    assert not recorder.errors
    return session, runner, recorder


def clusters(session: Session) -> list[tuple[str, list[str]]]:
    return [(g.name, list(g.paths)) for g in session.groups.grouping(AnalysisKind.CLUSTERS).groups]
