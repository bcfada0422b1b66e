"""Long file names in labels and actions: shortened or made wrappable, never read differently."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from sorter_app.ui.long_text import ZERO_WIDTH_SPACE, ElidedLabel, action_text, breakable, shortened

NAME = "house_rooms_train_Bathroom_bath_1004_jpg.rf.c9101ba5e5767ae535943560e02980d3.jpg"


def test_breakable_reads_the_same_and_offers_a_break_every_16_letters() -> None:
    for text in (NAME, "/a/b c/d", "x" * 100, "", "a&b<c>.jpg"):
        broken = breakable(text)
        assert broken.replace(ZERO_WIDTH_SPACE, "") == text
        runs = broken.replace(" ", ZERO_WIDTH_SPACE).split(ZERO_WIDTH_SPACE)
        assert max(map(len, runs)) <= 16 + 1  # 16 letters and the separator after them


def test_shortened_keeps_both_ends_within_the_limit() -> None:
    assert shortened("Keep a.jpg", 40) == "Keep a.jpg"
    cut = shortened(f"Keep {NAME}", 40)
    assert len(cut) == 40 and "…" in cut
    assert cut.startswith("Keep house_rooms") and cut.endswith("02980d3.jpg")


def test_an_ampersand_in_an_action_is_shown_not_taken_as_a_mnemonic() -> None:
    assert action_text("Keep a&b.jpg") == "Keep a&&b.jpg"


def test_an_elided_label_fits_the_width_it_is_given_and_keeps_its_whole_text(qtbot: QtBot) -> None:
    holder = QWidget()
    qtbot.addWidget(holder)
    label = ElidedLabel()
    QHBoxLayout(holder).addWidget(label)
    label.setText(f"<b>{NAME}</b>")
    holder.resize(200, 40)
    holder.show()
    qtbot.waitExposed(holder)
    assert label.text() == f"<b>{NAME}</b>"
    assert label.minimumSizeHint().width() == 0 and holder.minimumSizeHint().width() < 100
    fits = label.fontMetrics().horizontalAdvance(super(ElidedLabel, label).text())
    assert fits <= label.contentsRect().width() and label.textFormat() == Qt.TextFormat.PlainText
