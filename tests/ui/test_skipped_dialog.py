"""The skipped-files dialog on what a real indexing run skipped: listed, sortable, copyable."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from sorter_app.core.catalog import Catalog
from sorter_app.core.embedder import Embedder
from sorter_app.core.indexer import IndexReport, index_folder
from sorter_app.ui.skipped_dialog import SkippedFilesDialog
from tests import builders


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> IndexReport:
    """One real run over a folder with good photos, a truncated JPEG, a zero-byte file and a broken link."""
    tmp = tmp_path_factory.mktemp("skipped")
    folder = tmp / "photos"
    builders.write_jpeg(folder / "good.jpg", seed=1)
    builders.write_jpeg(folder / "trip" / "beach.jpg", seed=2)
    builders.write_truncated_jpeg(folder / "trip" / "cut off.jpg")
    builders.write_zero_bytes(folder / "empty.jpg")
    (folder / "Link.jpg").symlink_to(folder / "deleted.jpg")
    with Catalog(tmp / "data" / "catalog.sqlite") as catalog:
        return index_folder(folder, catalog, embedder, tmp / "data" / "indexes")


def _shown(dialog: SkippedFilesDialog) -> list[tuple[str, str]]:
    model = dialog.table.model()
    return [(model.index(row, 0).data(), model.index(row, 1).data()) for row in range(model.rowCount())]


def test_every_skipped_file_is_listed_with_its_reason(
    qtbot: QtBot, qtmodeltester: ModelTester, report: IndexReport
) -> None:
    assert report.indexed == 2
    dialog = SkippedFilesDialog(report.skipped, folder=report.folder)
    qtbot.addWidget(dialog)
    qtmodeltester.check(dialog.model)  # type: ignore[no-untyped-call]
    qtmodeltester.check(dialog.sorted_model)  # type: ignore[no-untyped-call]

    assert (
        dialog.headline.text() == f"3 files in {report.folder} could not be indexed; every other image was."
    )
    assert [dialog.model.headerData(c, Qt.Orientation.Horizontal) for c in range(2)] == ["File", "Reason"]
    rows = _shown(dialog)
    assert [path for path, _ in rows] == ["empty.jpg", "Link.jpg", "trip/cut off.jpg"]  # case-insensitive
    reasons = dict(rows)
    assert reasons["empty.jpg"] == "empty file (0 bytes)"
    assert reasons["Link.jpg"].startswith("broken symlink")
    assert reasons["trip/cut off.jpg"].startswith("truncated or corrupt image")


def test_sorting_by_reason_and_back(qtbot: QtBot, report: IndexReport) -> None:
    dialog = SkippedFilesDialog(report.skipped, folder=report.folder)
    qtbot.addWidget(dialog)
    dialog.table.sortByColumn(1, Qt.SortOrder.DescendingOrder)
    reasons = [reason for _, reason in _shown(dialog)]
    assert reasons == sorted(reasons, key=str.casefold, reverse=True)
    dialog.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    assert [path for path, _ in _shown(dialog)] == ["empty.jpg", "Link.jpg", "trip/cut off.jpg"]


def test_copy_list_puts_tab_separated_lines_on_the_clipboard(qtbot: QtBot, report: IndexReport) -> None:
    dialog = SkippedFilesDialog(report.skipped, folder=report.folder)
    qtbot.addWidget(dialog)
    QGuiApplication.clipboard().clear()
    dialog.copy_button.click()
    expected = "".join(f"{path}\t{reason}\n" for path, reason in _shown(dialog))
    assert QGuiApplication.clipboard().text() == expected
    assert expected.count("\n") == 3 and expected.startswith("empty.jpg\tempty file (0 bytes)\n")


def test_nothing_skipped(qtbot: QtBot) -> None:
    dialog = SkippedFilesDialog([], folder="/photos")
    qtbot.addWidget(dialog)
    assert dialog.headline.text() == "No files in /photos were skipped."
    assert not dialog.copy_button.isEnabled()


def test_close_rejects(qtbot: QtBot, report: IndexReport) -> None:
    dialog = SkippedFilesDialog(report.skipped)
    qtbot.addWidget(dialog)
    dialog.show()
    with qtbot.waitSignal(dialog.rejected):
        buttons = dialog.findChild(QDialogButtonBox)
        assert buttons is not None
        buttons.button(QDialogButtonBox.StandardButton.Close).click()
    assert dialog.headline.text().startswith("3 files could not be indexed")
