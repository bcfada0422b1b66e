"""A thumbnail's caption says which answer it shows, and whether that answer is the user's."""

from __future__ import annotations

from sorter_app.core.label_source import LabelAnswer, caption


def test_the_check_mark_belongs_to_the_answer_shown_not_to_any_answer() -> None:
    scene_corrected = [
        LabelAnswer("kind", "photo", 0.99),
        LabelAnswer("scene", "indoor", None, corrected=True),
        LabelAnswer("room", "bathroom", 0.57),
    ]
    assert caption(scene_corrected) == "bathroom 57%"  # the room is still the model's guess
    room_corrected = [*scene_corrected[:2], LabelAnswer("room", "dining_room", None, corrected=True)]
    assert caption(room_corrected) == "dining room ✓"
    outdoors = [LabelAnswer("kind", "photo", 0.99), LabelAnswer("scene", "outdoor", None, corrected=True)]
    assert caption(outdoors) == "outdoor ✓"
    assert caption([LabelAnswer("kind", "photo", 0.99), LabelAnswer("scene", "unknown", 0.4)]) == "unknown"
