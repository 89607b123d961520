"""Embedding throughput: optinface's pipeline against insightface ``FaceAnalysis``, same run.

Both sides get the same decoded images and the same two hash-checked model files. Work is
interleaved chunk by chunk (ours, FaceAnalysis det 640, FaceAnalysis det 320, again), so any
background load on the machine slows every side alike and the ratios stay meaningful.

Usage::

    python -m benchmarks.bench_embed [--lfw PATH] [--images 512] [--out benchmarks/results]

Writes ``bench_embed_<tag>.json`` (every figure) and ``bench_embed_<tag>.png`` (images/s per
system).
"""

from __future__ import annotations

import functools
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort
from insightface.app import FaceAnalysis

from benchmarks.command_line import IntOption, bench_parser
from benchmarks.lfw import DEFAULT_LFW, people
from benchmarks.output import RESULTS, measured, write_results
from benchmarks.plots import plot_bars
from optinface.engine.decode import BgrImage
from optinface.engine.manifest import load_manifest, verified_model_path
from optinface.engine.pipeline import FacePipeline
from optinface.engine.samples import Variant, portraits, variant
from optinface.engine.settings import EngineSettings
from optinface.engine.types import FacePick

SEED = 20261123
CHUNK = 32


@dataclass
class Tally:
    """Time spent, images seen and faces embedded by one system, plus the centre-face vectors."""

    seconds: float = 0.0
    images: int = 0
    faces: int = 0
    vectors: list[np.ndarray | None] = field(default_factory=list)

    def as_dict(self) -> dict[str, float]:
        return {
            "seconds": round(self.seconds, 3),
            "images": self.images,
            "faces": self.faces,
            "images_per_s": round(self.images / self.seconds, 2),
            "faces_per_s": round(self.faces / self.seconds, 2),
        }


def load_images(lfw: Path, count: int) -> tuple[list[BgrImage], str]:
    """``count`` LFW images chosen with a fixed seed, or sample portraits when LFW is absent."""
    pipeline = FacePipeline.from_settings(EngineSettings())
    if (lfw / "pairs.txt").is_file():
        paths = [path for images in people(lfw).values() for path in images]
        chosen = np.random.default_rng(SEED).choice(len(paths), size=count, replace=False)
        return [pipeline.decode(paths[i].read_bytes()) for i in sorted(chosen)], "LFW"
    base = portraits(pipeline.detector)
    pool = base + [variant(image, kind) for image in base for kind in Variant]
    return [pool[i % len(pool)] for i in range(count)], "insightface t1.jpg portraits"


def face_analysis(det_size: int, model_dir: Path) -> FaceAnalysis:
    """The baseline as its users run it: default session options, CPU provider."""
    analysis = FaceAnalysis(name=str(model_dir), providers=["CPUExecutionProvider"])
    analysis.prepare(ctx_id=-1, det_size=(det_size, det_size))
    return analysis


def baseline_model_dir(settings: EngineSettings) -> Path:
    """A folder holding only our two verified files, so FaceAnalysis loads exactly them."""
    folder = Path(tempfile.mkdtemp(prefix="optinface-fa-"))
    for spec in load_manifest(settings.manifest_path).values():
        if spec.id in (settings.detector_id, settings.recognizer_id):
            (folder / spec.file).symlink_to(verified_model_path(spec, settings.model_dir))
    return folder


def _centre_index(boxes: list[tuple[float, ...]], image: BgrImage) -> int:
    height, width = image.shape[:2]
    distances = [((b[0] + b[2]) / 2 - width / 2) ** 2 + ((b[1] + b[3]) / 2 - height / 2) ** 2
                 for b in boxes]
    return int(np.argmin(distances))


def run_ours(pipeline: FacePipeline, chunk: list[BgrImage], tally: Tally) -> None:
    started = time.perf_counter()
    results = pipeline.embed_images(chunk, FacePick.CENTER)
    tally.seconds += time.perf_counter() - started
    tally.images += len(chunk)
    for result in results:
        tally.faces += len(result.embeddings)
        tally.vectors.append(result.embeddings[0].vector if result.embeddings else None)


def run_face_analysis(analysis: FaceAnalysis, chunk: list[BgrImage], tally: Tally) -> None:
    started = time.perf_counter()
    found = [analysis.get(image) for image in chunk]
    tally.seconds += time.perf_counter() - started
    tally.images += len(chunk)
    for image, faces in zip(chunk, found, strict=True):
        tally.faces += len(faces)
        if not faces:
            tally.vectors.append(None)
            continue
        face = faces[_centre_index([tuple(f.bbox) for f in faces], image)]
        tally.vectors.append(face.normed_embedding.astype(np.float32))


def agreement(ours: Tally, theirs: Tally) -> dict[str, float]:
    """Cosine between our centre-face embedding and FaceAnalysis' for each image."""
    cosines = [float(a @ b) for a, b in zip(ours.vectors, theirs.vectors, strict=True)
               if a is not None and b is not None]
    return {
        "compared": len(cosines),
        "min_cosine": round(min(cosines), 5) if cosines else float("nan"),
        "median_cosine": round(float(np.median(cosines)), 5) if cosines else float("nan"),
        "share_above_0_99": round(float(np.mean(np.array(cosines) > 0.99)), 4),
    }


def main() -> None:
    parser = bench_parser(__doc__, IntOption("--images", 512))
    parser.add_argument("--lfw", type=Path, default=DEFAULT_LFW)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--tag", default="cpu", help="Suffix of the output files (cpu, gpu...)")
    args = parser.parse_args()

    settings = EngineSettings()
    images, source = load_images(args.lfw, args.images)
    pipeline = FacePipeline.from_settings(settings)
    model_dir = baseline_model_dir(settings)
    # "optinface det 640" isolates what batching and session options buy at FaceAnalysis'
    # detector size (embeddings identical); "optinface" adds the adaptive detector size.
    fixed_640 = FacePipeline.from_settings(EngineSettings(det_sizes=[640]))
    systems: dict[str, Callable[[list[BgrImage], Tally], None]] = {
        "optinface": lambda chunk, tally: run_ours(pipeline, chunk, tally),
        "optinface det 640": lambda chunk, tally: run_ours(fixed_640, chunk, tally),
    }
    for size in (640, 320):
        analysis = face_analysis(size, model_dir)
        systems[f"FaceAnalysis det {size}"] = functools.partial(run_face_analysis, analysis)
    for run in systems.values():  # warm-up: session creation and first-run allocations
        run(images[:4], Tally())
    tallies = {name: Tally() for name in systems}
    for start in range(0, len(images), CHUNK):
        for name, run in systems.items():
            run(images[start : start + CHUNK], tallies[name])

    pairs = [("optinface", "FaceAnalysis det 640"), ("optinface det 640", "FaceAnalysis det 640"),
             ("FaceAnalysis det 320", "FaceAnalysis det 640")]
    report = {
        "source": source,
        "images": len(images),
        "mean_image_shape": [int(v) for v in np.mean([i.shape for i in images], axis=0)],
        **measured(),
        "providers": pipeline.active_providers,
        "onnxruntime": ort.__version__,
        "systems": {name: tally.as_dict() for name, tally in tallies.items()},
        "speedup_images_per_s": {
            f"{a} / {b}": round(_rate(tallies[a]) / _rate(tallies[b]), 3)
            for a, b in [*pairs[:2], ("optinface", "FaceAnalysis det 320")]
        },
        "embedding_agreement": {f"{a} vs {b}": agreement(tallies[a], tallies[b]) for a, b in pairs},
    }
    write_results(f"bench_embed_{args.tag}", report, lambda _, path: plot_bars(
        {name: _rate(t) for name, t in tallies.items()}, path=path,
        title=f"Images/s on {source} ({args.tag}; higher is better)",
        ylabel="images per second",
    ), folder=args.out)
    print(json.dumps({k: report[k] for k in ("systems", "speedup_images_per_s",
                                              "embedding_agreement")}, indent=2))


def _rate(tally: Tally) -> float:
    return tally.images / tally.seconds


if __name__ == "__main__":
    main()
