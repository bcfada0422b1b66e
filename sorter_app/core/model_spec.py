"""The model sidecar: the single definition of how pixels become model input.

`sorter-train export-embedder` writes it next to the ONNX file and the app reads it, so input
size, resize policy and normalisation are never written down twice.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import ModelError

SIDECAR_FORMAT = 1


@dataclass(frozen=True)
class Preprocess:
    """Pixels → tensor: resize the shorter side to `size`, centre-crop `size`², scale to [0,1], normalise."""

    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    resize: str = "shorter_side"
    crop: str = "center"
    resample: str = "bilinear"
    layout: str = "NCHW"


@dataclass(frozen=True)
class ModelSpec:
    model_id: str
    onnx_file: str
    sha256: str
    input_name: str
    preprocess: Preprocess
    embedding_output: str
    embedding_dim: int
    outputs: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    # The probability heads alone, as a graph from the embedding (heads_graph.py): what turns the
    # vectors a catalog already holds into this model's predictions without decoding an image.
    # "" when the heads do not read the embedding alone (a fine-tuned tail) or the model has none.
    heads_file: str = ""
    heads_sha256: str = ""
    # Heads that are another model's, node for node (a label-set model keeps its base's kind, scene
    # and room): head → that model's id. A catalog's stored answers of that model are this model's
    # answers too, copied rather than decoded again; the heads graph holds the other heads.
    answers_from: dict[str, str] = field(default_factory=dict)

    @property
    def embedding_id(self) -> str:
        """Which embedding function this model computes: a model that only added heads to a frozen
        embedder records it as `extra.embedding_from`, so what was fitted on those embeddings
        (the curate noise probe) stays valid."""
        source = self.extra.get("embedding_from")
        return str(source["model_id"]) if isinstance(source, dict) and "model_id" in source else self.model_id

    @property
    def embedding_names(self) -> tuple[str, ...]:
        """Every name under which a catalog may already hold this model's vectors, canonical first.

        A model that appended heads to a frozen embedder computes bit for bit the vectors of that
        embedder and of every model built on it (`extra.embedding_from`: the embedder, the model
        whose graph it kept, `same_graph_as`, and the names that one knew, `stored_as`), so a
        catalog keeps the vectors, and the index files built on them, under whichever name it
        first stored them (`Catalog.vector_key`). A model that records no embedder (or another
        embedder) shares no name, and its folders are embedded again, as they must be.
        """
        source = self.extra.get("embedding_from")
        names = [self.embedding_id]
        if isinstance(source, dict):
            names += [str(source["same_graph_as"])] if "same_graph_as" in source else []
            names += [str(name) for name in source.get("stored_as", ())]
        names.append(self.model_id)
        return tuple(dict.fromkeys(names))

    @property
    def probability_heads(self) -> dict[str, dict[str, Any]]:
        """Outputs that are class probabilities (e.g. "scene", "room"), with their labels."""
        return {name: out for name, out in self.outputs.items() if out.get("kind") == "probabilities"}

    @property
    def copied_answers(self) -> dict[str, tuple[str, int]]:
        """Each copied probability head: (the model whose answers are its, its label count)."""
        heads = self.probability_heads
        return {
            head: (source, len(heads[head].get("labels", ())))
            for head, source in self.answers_from.items()
            if head in heads
        }

    @property
    def own_heads(self) -> list[str]:
        """The probability heads whose answers are not copied from another model's: what a heads
        graph must hold."""
        return [head for head in self.probability_heads if head not in self.answers_from]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["format"] = SIDECAR_FORMAT
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelSpec:
        try:
            if data.get("format") != SIDECAR_FORMAT:
                raise ModelError(f"unsupported model sidecar format {data.get('format')!r}")
            pre = dict(data["preprocess"])
            for key in ("mean", "std"):
                pre[key] = tuple(float(v) for v in pre[key])
            spec = cls(
                model_id=str(data["model_id"]),
                onnx_file=str(data["onnx_file"]),
                sha256=str(data["sha256"]),
                input_name=str(data["input_name"]),
                preprocess=Preprocess(**pre),
                embedding_output=str(data["embedding_output"]),
                embedding_dim=int(data["embedding_dim"]),
                outputs=dict(data.get("outputs", {})),
                source=dict(data.get("source", {})),
                extra=dict(data.get("extra", {})),
                heads_file=str(data.get("heads_file", "")),
                heads_sha256=str(data.get("heads_sha256", "")),
                answers_from={str(k): str(v) for k, v in dict(data.get("answers_from", {})).items()},
            )
            for name, out in spec.probability_heads.items():
                labels = out.get("labels")
                if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
                    raise ModelError(f"model sidecar: output {name!r} has no list of labels")
            return spec
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # AttributeError: not an object
            raise ModelError(f"model sidecar is incomplete: {exc}") from exc


def load_spec(sidecar: Path) -> ModelSpec:
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelError(f"model sidecar not found: {sidecar}") from exc
    except (OSError, ValueError) as exc:  # ValueError: not JSON, or not UTF-8 (a damaged file)
        raise ModelError(f"cannot read model sidecar {sidecar}: {exc}") from exc
    return ModelSpec.from_json(data)
