"""export-heads' torch/onnxruntime parity check and the indoor gate: an image whose scene sits on
the gate can take its room from different tails in each runtime, and must not make the export
refuse; any other difference must still count."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pytest
import torch
from numpy.typing import NDArray
from torch import nn

from training.export_embedder import INPUT_NAME
from training.export_heads import INDOOR_GATE, OUTPUT_NAMES, HeadsModel, parity
from training.labels import SCENES

INDOOR = SCENES.index("indoor")


def _outputs(indoor: list[float], rooms: list[list[float]]) -> list[NDArray[np.float32]]:
    n = len(indoor)
    scene = np.zeros((n, len(SCENES)), np.float32)
    scene[:, INDOOR] = indoor
    scene[:, 1 - INDOOR] = 1 - np.asarray(indoor, np.float32)
    by_name = {
        "embedding": np.full((n, 4), 0.5, np.float32),
        "kind": np.tile(np.array([[0.9, 0.1]], np.float32), (n, 1)),
        "scene": scene,
        "room": np.asarray(rooms, np.float32),
    }
    return [by_name[name] for name in OUTPUT_NAMES]


class _Torch(nn.Module):
    """Stands in for HeadsModel: fixed answers per image (image i is filled with the value i)."""

    def __init__(self, outputs: list[NDArray[np.float32]], gated: bool) -> None:
        super().__init__()
        self.outputs = outputs
        self.answers = [(("scene", "room"), 0, False), (("room",), 288, gated)]

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        rows = image[:, 0, 0, 0].long().numpy()
        return tuple(torch.from_numpy(o[rows]) for o in self.outputs)


class _Session:
    """Stands in for the onnxruntime session, with answers of its own."""

    def __init__(self, outputs: list[NDArray[np.float32]]) -> None:
        self.outputs = outputs

    def run(self, names: list[str], feeds: dict[str, Any]) -> list[NDArray[np.float32]]:
        assert names == list(OUTPUT_NAMES)
        rows = feeds[INPUT_NAME][:, 0, 0, 0].astype(int)
        return [o[rows] for o in self.outputs]


def _batch(n: int) -> NDArray[np.float32]:
    return np.broadcast_to(np.arange(n, dtype=np.float32)[:, None, None, None], (n, 3, 2, 2)).copy()


def _parity(torch_out: list[NDArray[np.float32]], ort_out: list[NDArray[np.float32]], gated: bool) -> float:
    model = cast(HeadsModel, _Torch(torch_out, gated))
    return parity(model, cast(Any, _Session(ort_out)), _batch(torch_out[0].shape[0]))


ROOM_A = [0.9, 0.02, 0.02, 0.02, 0.02, 0.02]
ROOM_B = [0.02, 0.9, 0.02, 0.02, 0.02, 0.02]


def test_a_room_across_the_gate_is_not_compared_and_the_rest_is() -> None:
    # Image 0 sits on the gate: torch calls it indoor, onnxruntime by 1e-6 not, so the two give
    # rooms from different tails. Image 1 is clearly indoor and its room differs by 0.1.
    on_gate = INDOOR_GATE + 5e-7
    room_1 = [0.8, 0.12, 0.02, 0.02, 0.02, 0.02]
    torch_out = _outputs([on_gate, 0.95], [ROOM_A, ROOM_A])
    ort_out = _outputs([on_gate - 1e-6, 0.95], [ROOM_B, room_1])
    assert _parity(torch_out, ort_out, gated=True) == pytest.approx(0.1, abs=1e-6)
    # Image 0 alone: only its scene's rounding is left.
    alone = _parity([o[:1] for o in torch_out], [o[:1] for o in ort_out], gated=True)
    assert alone == pytest.approx(1e-6, abs=2e-7)


def test_without_a_gate_every_room_is_compared() -> None:
    on_gate = INDOOR_GATE + 5e-7
    torch_out = _outputs([on_gate], [ROOM_A])
    ort_out = _outputs([on_gate - 1e-6], [ROOM_B])
    assert _parity(torch_out, ort_out, gated=False) == pytest.approx(0.88, abs=1e-6)


def test_a_room_on_the_same_side_of_the_gate_is_compared() -> None:
    torch_out = _outputs([0.7, 0.2], [ROOM_A, ROOM_A])
    ort_out = _outputs([0.7, 0.2], [ROOM_A, ROOM_B])  # the outdoor photo's room differs
    assert _parity(torch_out, ort_out, gated=True) == pytest.approx(0.88, abs=1e-6)
