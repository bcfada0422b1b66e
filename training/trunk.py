"""EfficientNet-Lite0 cut in two: a frozen trunk, and a tail that can be copied and fine-tuned.

The bundled embedding must stay bit-identical (every catalog's vectors depend on it), so a
fine-tuned model cannot change any layer the embedding passes through. Instead the network is cut
before block `CUT_BLOCK`: the trunk (stem + blocks 0–14, ~88 % of the compute) runs once; its
[192, 7, 7] activation feeds both the original tail (block 15 + head conv → pooled, L2-normalised
embedding, unchanged) and, in a fine-tuned model, a trainable *copy* of that tail whose pooled
features feed the heads (~50 M multiply-adds more per image, ~12 % of the network).

Because nothing before the cut ever learns, the trunk's activations of a few views of each image
can be computed once and cached (`training/feature_cache.py`); fine-tuning then trains only the
copied tail on the cache, which a 2-core CPU does at hundreds of views per second.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F  # noqa: N812 (the conventional name)
from torch import nn

from .efficientnet_lite import EfficientNetLite

CUT_BLOCK = 15  # the tail: the last MBConv block (192 → 320 channels, 7×7) and the head conv
ACTIVATION_SHAPE = (192, 7, 7)  # the trunk's output for a 224-px image


class Trunk(nn.Module):
    """image [B, 3, 224, 224] → activation [B, 192, 7, 7] (the input of block `CUT_BLOCK`)."""

    def __init__(self, net: EfficientNetLite, cut: int = CUT_BLOCK) -> None:
        super().__init__()
        self.stem = net._conv_stem
        self.stem_bn = net._bn0
        self.blocks = nn.ModuleList(list(net._blocks)[:cut])

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self.stem_bn(self.stem(image)))
        for block in self.blocks:
            x = block(x)
        return x


class Tail(nn.Module):
    """activation [B, 192, 7, 7] → pooled features [B, 1280] (not normalised)."""

    def __init__(self, net: EfficientNetLite, cut: int = CUT_BLOCK) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(list(net._blocks)[cut:])
        self.head_conv = net._conv_head
        self.head_bn = net._bn1

    def forward(self, activation: torch.Tensor) -> torch.Tensor:
        x = activation
        for block in self.blocks:
            x = block(x)
        x = F.relu6(self.head_bn(self.head_conv(x)))
        return F.adaptive_avg_pool2d(x, 1).flatten(1)

    def copy(self) -> Tail:
        """An independent copy with its own parameters: what fine-tuning trains."""
        return copy.deepcopy(self)


def unit_length(features: torch.Tensor) -> torch.Tensor:
    """`LiteEmbedder`'s normalisation, written the same way so the exported graph is the same."""
    unit: torch.Tensor = features / features.norm(p=2, dim=1, keepdim=True).clamp_min(1e-12)
    return unit


class TrunkAndEmbedding(nn.Module):
    """image → (trunk activation, embedding): what the feature cache stores for each view."""

    def __init__(self, net: EfficientNetLite, cut: int = CUT_BLOCK) -> None:
        super().__init__()
        self.trunk = Trunk(net, cut)
        self.tail = Tail(net, cut)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        activation = self.trunk(image)
        return activation, unit_length(self.tail(activation))
