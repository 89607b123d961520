"""Reading LFW (Labeled Faces in the Wild, Huang et al., UMass Amherst) by path.

LFW is used only as an offline benchmark: it is read where it lies (``--lfw PATH``), never
copied into the project, never enrolled. Its people never consented to face recognition, so
the embeddings computed from it are cached outside the repository, in the system temp folder,
and can be deleted at any time (``--no-cache`` avoids writing them at all).
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from optinface.engine.pipeline import FacePipeline
from optinface.engine.types import FacePick

DEFAULT_LFW = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "lfw-deepfunneled"
CITATION = (
    "LFW: G. B. Huang, M. Ramesh, T. Berg, E. Learned-Miller. Labeled Faces in the Wild: "
    "A Database for Studying Face Recognition in Unconstrained Environments. UMass Amherst "
    "TR 07-49, 2007 (deep-funneled images)."
)
CHUNK = 64


def lfw_parser(module: str, doc: str) -> argparse.ArgumentParser:
    """The command line of a script that embeds LFW with :func:`embed_paths`, with ``--lfw PATH``
    and ``--no-cache`` defined once: calibration and evaluation read and cache the data set
    alike. ``doc`` is the script's docstring (its first paragraph is the description)."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {module}",
        description=doc.split("\n\n")[0],
        epilog=f"example: python -m {module} --lfw ~/data/lfw-deepfunneled",
    )
    parser.add_argument("--lfw", type=Path, default=DEFAULT_LFW, help="LFW folder (read in place)")
    parser.add_argument(
        "--no-cache", action="store_true", help="embed again and keep no embeddings on disk"
    )
    return parser


@dataclass(frozen=True, slots=True)
class Pair:
    """One line of ``pairs.txt``: two image paths, same person or not, and its fold (0-9)."""

    first: Path
    second: Path
    same: bool
    fold: int


def image_path(root: Path, name: str, number: int) -> Path:
    return root / name / f"{name}_{number:04d}.jpg"


def read_pairs(root: Path) -> list[Pair]:
    """The official 10 folds x (300 same + 300 different) pairs."""
    lines = (root / "pairs.txt").read_text().split("\n")
    folds, per_kind = (int(value) for value in lines[0].split())
    pairs = []
    for index, line in enumerate(item for item in lines[1:] if item.strip()):
        fields = line.split("\t")
        fold = index // (2 * per_kind)
        if len(fields) == 3:
            name, a, b = fields
            pairs.append(Pair(image_path(root, name, int(a)), image_path(root, name, int(b)),
                              True, fold))
        else:
            name_a, a, name_b, b = fields
            pairs.append(Pair(image_path(root, name_a, int(a)), image_path(root, name_b, int(b)),
                              False, fold))
    if len(pairs) != folds * 2 * per_kind:
        raise ValueError(f"pairs.txt holds {len(pairs)} pairs, expected {folds * 2 * per_kind}")
    return pairs


def people(root: Path) -> dict[str, list[Path]]:
    """Every person's images, sorted by image number."""
    return {
        folder.name: sorted(folder.glob("*.jpg"))
        for folder in sorted(root.iterdir())
        if folder.is_dir()
    }


@dataclass(frozen=True, slots=True)
class EmbeddedSet:
    """Embeddings of a list of images (NaN rows where no face was found) and the cost.

    ``det_scores`` and ``inter_eye_px`` describe the face each vector was made from (NaN where
    none was found): the capture conditions ``eval_differential`` groups images by.
    """

    paths: list[Path]
    vectors: np.ndarray
    det_scores: np.ndarray
    inter_eye_px: np.ndarray
    seconds: float
    from_cache: bool

    @property
    def failures(self) -> int:
        return int(np.isnan(self.vectors[:, 0]).sum())


# What a cache file holds; one written before the face measures were kept is embedded again.
_CACHED = ("vectors", "det_scores", "inter_eye_px", "seconds")


def embed_paths(
    pipeline: FacePipeline, paths: Sequence[Path], *, use_cache: bool = True
) -> EmbeddedSet:
    """Embed each image as the service would, picking the face nearest the centre."""
    cache = cache_path(pipeline, paths)
    if use_cache and cache.is_file():
        with np.load(cache) as stored:
            if all(name in stored for name in _CACHED):
                return EmbeddedSet(list(paths), stored["vectors"], stored["det_scores"],
                                   stored["inter_eye_px"], float(stored["seconds"]), True)
    vectors = np.full((len(paths), pipeline.embedder.dim), np.nan, dtype=np.float32)
    det_scores = np.full(len(paths), np.nan, dtype=np.float32)
    inter_eye_px = np.full(len(paths), np.nan, dtype=np.float32)
    started = time.perf_counter()
    for start in range(0, len(paths), CHUNK):
        chunk = paths[start : start + CHUNK]
        images = [pipeline.decode(path.read_bytes()) for path in chunk]
        for offset, result in enumerate(pipeline.embed_images(images, FacePick.CENTER)):
            if result.embeddings:
                embedding = result.embeddings[0]
                vectors[start + offset] = embedding.vector
                det_scores[start + offset] = embedding.face.score
                inter_eye_px[start + offset] = embedding.face.inter_eye_distance
    seconds = time.perf_counter() - started
    if use_cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, vectors=vectors, det_scores=det_scores, inter_eye_px=inter_eye_px,
                 seconds=seconds)
    return EmbeddedSet(list(paths), vectors, det_scores, inter_eye_px, seconds, False)


def cache_path(pipeline: FacePipeline, paths: Sequence[Path]) -> Path:
    """Where the embeddings of ``paths`` by this pipeline's models and detector settings live."""
    key = hashlib.sha256(
        "\n".join(
            [*pipeline.models, pipeline.detector.configuration, *map(str, paths)]
        ).encode()
    ).hexdigest()[:20]
    return Path(tempfile.gettempdir()) / "optinface-lfw-cache" / f"{key}.npz"
