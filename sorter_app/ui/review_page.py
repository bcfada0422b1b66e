"""The review queue: one image large with the model's top guesses; Enter accepts the best guess,
1–9 or a label's first letter gives that label, Space skips. Counts and the estimated accuracy
update as the model retrains behind it.

The queue, its order and what a key means live in the session (`session.label_sets`); this page
shows the head of the queue and turns keys into commands. Its set picker chooses the session's
active set, as the Labels tab's does: one set is labelled, reviewed and acted on at a time.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QKeyEvent, QShowEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ..session import Changes, Session
from .image_view import Decoded, ImageLoader, ZoomableImage
from .labels_page import LabelSetBox
from .long_text import breakable
from .thumbnails import ThumbnailCache

EMPTY = "Nothing to review yet: label images with at least two labels, and the model will ask about the rest."
NEXT = "Training… the model chooses what to ask next."
ALL_LABELLED = "Nothing left to review: every image of this folder has a label of “{}”."


class ReviewPage(QWidget):
    def __init__(self, session: Session, thumbnails: ThumbnailCache) -> None:
        super().__init__()
        self.session = session
        self._thumbnails = thumbnails
        self.shown: str | None = None  # relpath of the image on screen
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.image = ZoomableImage(interactive=False)
        self.loader = ImageLoader(1600, self)
        self.loader.loaded.connect(self._decoded)
        self.loader.failed.connect(
            lambda message: self.image.set_message(f"Cannot show this image: {message}")
        )

        self.set_box = LabelSetBox(session)
        self.set_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the page keeps the keys
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.guesses = QLabel()
        self.guesses.setWordWrap(True)
        self.keys = QLabel()
        self.keys.setWordWrap(True)
        self.progress = QLabel()
        self.progress.setWordWrap(True)
        self.accept = QPushButton("Accept (Enter)")
        self.accept.setToolTip("The model's best guess is right")
        self.accept.clicked.connect(lambda: session.image_labels.review_answer())
        self.skip = QPushButton("Skip (Space)")
        self.skip.setToolTip("Not now: this image goes to the end of the queue")
        self.skip.clicked.connect(session.label_sets.skip)
        for button in (self.accept, self.skip):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the page keeps the keys
        buttons = QHBoxLayout()
        buttons.addWidget(self.accept)
        buttons.addWidget(self.skip)
        side = QVBoxLayout()
        picker = QHBoxLayout()
        picker.addWidget(QLabel("Label set"))
        picker.addWidget(self.set_box, 1)
        side.addLayout(picker)
        for widget in (self.title, self.guesses, self.keys):
            side.addWidget(widget)
        side.addLayout(buttons)
        side.addStretch(1)
        side.addWidget(self.progress)
        panel = QWidget()
        panel.setLayout(side)
        panel.setFixedWidth(340)
        layout = QHBoxLayout(self)
        layout.addWidget(self.image, 1)
        layout.addWidget(panel)
        session.changed.connect(self._session_changed)
        self._session_changed(Changes(labels=True))

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(900, 600)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        self.setFocus()

    def _session_changed(self, changes: Changes) -> None:
        if changes.labels or changes.folder:
            self.refresh()

    def refresh(self) -> None:
        sets, root = self.session.label_sets, self.session.root
        chosen = sets.current
        head = sets.review[0] if sets.review and root is not None else None
        counts = sets.counts()
        self.progress.setText(
            f"{sum(counts.values()):,} images labelled"
            + (f" ({', '.join(f'{label} {n:,}' for label, n in counts.items())})" if counts else "")
            + f"\n{sets.status_text() if chosen else ''}"
        )
        self.keys.setText(
            "Keys: " + ", ".join(f"{sets.key_for(label) or label[:1]} {label}" for label in chosen.labels)
            if chosen and chosen.labels
            else ""
        )
        self.accept.setEnabled(head is not None)
        self.skip.setEnabled(len(sets.review) > 1)
        if head is None or root is None:
            self.shown = None
            self.title.setText(f"Review “{chosen.name}”" if chosen else "Review")
            self.guesses.setText("")
            self.loader.cancel()
            self.image.set_message(self._empty_message())
            return
        folder = Path(head.path).parent.as_posix()
        self.title.setText(  # rich text: a name may hold "<" or "&", and may need to wrap
            f"<b>{html.escape(breakable(Path(head.path).name))}</b>"
            + (f"<br>in {html.escape(breakable(folder))}" if folder != "." else "")
            + f"<br>next: the {len(sets.review):,} it is least sure of (refilled as it learns)"
        )
        lines = [f"{sets.key_for(label) or '·'}  {html.escape(label)} · {p:.0%}" for label, p in head.top]
        lines[:1] = [f"<b>{line}</b>" for line in lines[:1]]
        sure = "" if head.label != "unknown" else "<br><i>The model is not sure (below its threshold).</i>"
        self.guesses.setText("Its guesses:<br>" + "<br>".join(lines) + sure)
        if head.path != self.shown:
            self.shown = head.path
            path = f"{root}/{head.path}"
            thumbnail = self._thumbnails.pixmap(path)
            if thumbnail is not None and not thumbnail.isNull():
                self.image.set_image(thumbnail)
            else:
                self.image.set_message("Loading…")
            self.loader.load(Path(path))

    def _empty_message(self) -> str:
        """Why no image is shown: no model yet, every image labelled, or the next retrain is due."""
        sets = self.session.label_sets
        chosen, trained = sets.current, sets.trained
        if trained is None or trained.model is None or chosen is None:
            return "Training…" if sets.training else EMPTY
        if all(a.labelled for a in trained.answers.values()):  # only when the queue ran dry
            return ALL_LABELLED.format(chosen.name)
        return NEXT

    def _decoded(self, decoded: Decoded) -> None:
        self.image.set_image(decoded.image, QSize(decoded.width, decoded.height))

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        sets = self.session.label_sets
        if event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            super().keyPressEvent(event)
        elif event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.session.image_labels.review_answer()
        elif event.key() == Qt.Key.Key_Space:
            sets.skip()
        elif (label := sets.label_for_key(event.text())) is not None and sets.review:
            self.session.image_labels.review_answer(label)
        else:
            super().keyPressEvent(event)
