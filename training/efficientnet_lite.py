"""EfficientNet-Lite, written here so the exported graph depends on code we read and test.

The ImageNet weights we ship were trained in TensorFlow and ported to PyTorch; TensorFlow's "SAME"
padding is asymmetric for stride-2 convolutions on even-sized inputs (one extra row/column at the
bottom/right), so a plain `padding=k // 2` would shift every stride-2 layer by half a pixel and
change the features. Padding is therefore computed for a fixed input size at construction time,
which also keeps the ONNX graph free of shape arithmetic. Module names match the ported state dict
(`_conv_stem`, `_blocks.N._depthwise_conv`, ...), so the weights load with `strict=True`.

Lite differs from EfficientNet-B*: ReLU6 instead of swish and no squeeze-excite (both for
quantisation-friendly mobile runtimes), and the stem, head and first/last stages are not scaled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, cast

import torch
import torch.nn.functional as F  # noqa: N812 (the conventional name)
from torch import nn

STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
_CHANNEL_DIVISOR = 8


@dataclass(frozen=True)
class Stage:
    """One row of the TF builder's block table ("r1_k3_s11_e1_i32_o16"), before width/depth scaling."""

    repeats: int
    kernel: int
    stride: int
    expand: int
    out_channels: int


# efficientnet_lite_builder.py in tensorflow/tpu: the same table as B0, without squeeze-excite.
BASE_STAGES: tuple[Stage, ...] = (
    Stage(1, 3, 1, 1, 16),
    Stage(2, 3, 2, 6, 24),
    Stage(2, 5, 2, 6, 40),
    Stage(3, 3, 2, 6, 80),
    Stage(3, 5, 1, 6, 112),
    Stage(4, 5, 2, 6, 192),
    Stage(1, 3, 1, 6, 320),
)


@dataclass(frozen=True)
class LiteConfig:
    name: str
    width: float
    depth: float
    image_size: int
    dropout: float
    num_classes: int = 1000
    drop_connect: float = 0.2
    bn_eps: float = 1e-3


LITE_VARIANTS: dict[str, LiteConfig] = {
    cfg.name: cfg
    for cfg in (
        LiteConfig("efficientnet-lite0", 1.0, 1.0, 224, 0.2),
        LiteConfig("efficientnet-lite1", 1.0, 1.1, 240, 0.2),
        LiteConfig("efficientnet-lite2", 1.1, 1.2, 260, 0.3),
        LiteConfig("efficientnet-lite3", 1.2, 1.4, 280, 0.3),
        LiteConfig("efficientnet-lite4", 1.4, 1.8, 300, 0.3),
    )
}


def round_channels(channels: int, width: float) -> int:
    """The TF builder's rounding: nearest multiple of 8, never more than 10 % below the target."""
    scaled = channels * width
    rounded = max(_CHANNEL_DIVISOR, int(scaled + _CHANNEL_DIVISOR / 2) // _CHANNEL_DIVISOR * _CHANNEL_DIVISOR)
    if rounded < 0.9 * scaled:
        rounded += _CHANNEL_DIVISOR
    return int(rounded)


def round_repeats(repeats: int, depth: float) -> int:
    return math.ceil(depth * repeats)


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) padding that TF "SAME" applies along one axis of length `size`."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SamePadConv2d(nn.Conv2d):
    """Conv2d with TF "SAME" padding for one input size; symmetric cases stay a single Conv op."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int,
        *,
        input_size: int,
        stride: int = 1,
        groups: int = 1,
    ) -> None:
        before, after = same_padding(input_size, kernel, stride)
        symmetric = before == after
        super().__init__(
            in_channels,
            out_channels,
            kernel,
            stride=stride,
            padding=before if symmetric else 0,
            groups=groups,
            bias=False,
        )
        # (left, right, top, bottom) for F.pad; square inputs pad both axes alike.
        self.extra_pad: tuple[int, int, int, int] | None = (
            None if symmetric else (before, after, before, after)
        )
        self.output_size = math.ceil(input_size / stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.extra_pad is not None:
            if torch.onnx.is_in_onnx_export():
                x = cast(torch.Tensor, _OnnxConstantPad.apply(x, self.extra_pad))
            else:
                x = F.pad(x, self.extra_pad)
        return super().forward(x)


class _OnnxConstantPad(torch.autograd.Function):
    """F.pad, exported as one Pad node with constant pads.

    The TorchScript exporter turns F.pad into a Slice(step=-1)/Transpose/Concat chain it cannot fold,
    which also hides the output width from ONNX shape inference; export-only, so no backward.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, pads: tuple[int, int, int, int]) -> torch.Tensor:
        return F.pad(x, pads)

    @staticmethod
    def symbolic(g: Any, x: Any, pads: tuple[int, int, int, int]) -> Any:
        left, right, top, bottom = pads
        onnx_pads = torch.tensor([0, 0, top, left, 0, 0, bottom, right], dtype=torch.int64)
        return g.op("Pad", x, g.op("Constant", value_t=onnx_pads), mode_s="constant")


class MBConvBlock(nn.Module):
    """Inverted residual: 1×1 expand → k×k depthwise → 1×1 linear projection (+ identity skip)."""

    def __init__(
        self, in_channels: int, out_channels: int, stage: Stage, stride: int, input_size: int, bn_eps: float
    ) -> None:
        super().__init__()
        mid = in_channels * stage.expand
        self.has_expand = stage.expand != 1
        if self.has_expand:
            self._expand_conv = SamePadConv2d(in_channels, mid, 1, input_size=input_size)
            self._bn0 = nn.BatchNorm2d(mid, eps=bn_eps)
        self._depthwise_conv = SamePadConv2d(
            mid, mid, stage.kernel, input_size=input_size, stride=stride, groups=mid
        )
        self._bn1 = nn.BatchNorm2d(mid, eps=bn_eps)
        self.output_size = self._depthwise_conv.output_size
        self._project_conv = SamePadConv2d(mid, out_channels, 1, input_size=self.output_size)
        self._bn2 = nn.BatchNorm2d(out_channels, eps=bn_eps)
        self.use_skip = stride == 1 and in_channels == out_channels
        self.drop_connect = 0.0

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x: torch.Tensor = inputs
        if self.has_expand:
            x = F.relu6(self._bn0(self._expand_conv(x)))
        x = F.relu6(self._bn1(self._depthwise_conv(x)))
        x = self._bn2(self._project_conv(x))
        if not self.use_skip:
            return x
        if self.training and self.drop_connect > 0:
            x = _drop_path(x, self.drop_connect)
        return x + inputs


def _drop_path(x: torch.Tensor, rate: float) -> torch.Tensor:
    """Stochastic depth, as the TF trainer used it: drop whole residual branches per sample."""
    keep = 1.0 - rate
    mask = torch.floor(keep + torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device))
    return x / keep * mask


class EfficientNetLite(nn.Module):
    """The classifier; `features`/`pooled_features` expose what the embedder and fine-tuning need."""

    def __init__(self, config: LiteConfig) -> None:
        super().__init__()
        self.config = config
        size = config.image_size
        self._conv_stem = SamePadConv2d(3, STEM_CHANNELS, 3, input_size=size, stride=2)
        self._bn0 = nn.BatchNorm2d(STEM_CHANNELS, eps=config.bn_eps)
        size = self._conv_stem.output_size

        blocks: list[MBConvBlock] = []
        channels = STEM_CHANNELS
        last = len(BASE_STAGES) - 1
        for index, stage in enumerate(BASE_STAGES):
            out_channels = round_channels(stage.out_channels, config.width)
            fixed = index in (0, last)  # Lite keeps the first and last stages at their B0 depth.
            repeats = stage.repeats if fixed else round_repeats(stage.repeats, config.depth)
            for repeat in range(repeats):
                stride = stage.stride if repeat == 0 else 1
                block = MBConvBlock(channels, out_channels, stage, stride, size, config.bn_eps)
                blocks.append(block)
                channels, size = out_channels, block.output_size
        for index, block in enumerate(blocks):
            block.drop_connect = config.drop_connect * index / len(blocks)
        self._blocks = nn.ModuleList(blocks)

        self._conv_head = SamePadConv2d(channels, HEAD_CHANNELS, 1, input_size=size)
        self._bn1 = nn.BatchNorm2d(HEAD_CHANNELS, eps=config.bn_eps)
        self._dropout = nn.Dropout(config.dropout)
        self._fc = nn.Linear(HEAD_CHANNELS, config.num_classes)
        self.feature_size = size

    def features(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) → (B, 1280, S/32, S/32) after the head conv; S must be `config.image_size`."""
        expected = self.config.image_size
        # Not while exporting: the tracer would warn about (and freeze) the comparison.
        if not torch.onnx.is_in_onnx_export() and tuple(image.shape[-2:]) != (expected, expected):
            raise ValueError(
                f"{self.config.name} is built for {expected}×{expected} input (static TF padding), "
                f"got {tuple(image.shape[-2:])}"
            )
        x = F.relu6(self._bn0(self._conv_stem(image)))
        for block in self._blocks:
            x = block(x)
        return F.relu6(self._bn1(self._conv_head(x)))

    def pooled_features(self, image: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(self.features(image), 1).flatten(1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (or the fine-tuned head's)."""
        logits: torch.Tensor = self._fc(self._dropout(self.pooled_features(image)))
        return logits


class LiteEmbedder(nn.Module):
    """What the app runs: unit-length pooled features, so cosine similarity is a dot product.

    Dropout and the classifier are left out of the graph; the features are the penultimate layer
    the classifier was trained on.
    """

    def __init__(self, net: EfficientNetLite) -> None:
        super().__init__()
        self.net = net

    @property
    def embedding_dim(self) -> int:
        return HEAD_CHANNELS

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        # F.normalize's arithmetic, minus its `expand_as`, which would make the exported output
        # width unknown to ONNX shape inference; broadcasting gives the same numbers.
        features = self.net.pooled_features(image)
        unit: torch.Tensor = features / features.norm(p=2, dim=1, keepdim=True).clamp_min(1e-12)
        return unit


def build_lite(
    name: str = "efficientnet-lite0", num_classes: int = 1000, image_size: int | None = None
) -> EfficientNetLite:
    """A variant, untrained; `image_size` other than its own builds it for another input size (the
    padding is static), with the same weights' shapes."""
    try:
        config = LITE_VARIANTS[name]
    except KeyError:
        raise ValueError(f"unknown variant {name!r}; known: {', '.join(LITE_VARIANTS)}") from None
    return EfficientNetLite(
        replace(config, num_classes=num_classes, image_size=image_size or config.image_size)
    )
