"""SCRFD face detection (insightface's model-zoo class) with an adaptive input size.

A 250x250 enrolment photo does not need a 640x640 pass: the smallest configured square that
holds the whole image is used, so small images are never downscaled (no loss of small faces)
and are not padded far beyond their size (about 3x less work than 640 at 256).

An image so thin that its short side scales below one pixel (700x1 into 640: 640x0) would
reach OpenCV's resize with a side of 0, where it asserts: it holds no face the detector can
find, so :meth:`FaceDetector.detect` finds none rather than failing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from optinface.engine.decode import BgrImage
from optinface.engine.types import DetectedFace


class FaceDetector:
    """Finds faces and their five landmarks."""

    def __init__(
        self,
        model_path: Path,
        *,
        providers: Sequence[str],
        options: ort.SessionOptions,
        sizes: Sequence[int],
        threshold: float,
    ) -> None:
        # Imported where a model loads (insightface brings onnx, scikit-image and SciPy: 0.7 s
        # of every command's start, benchmarks/bench_cli_start.py), so the commands that load
        # none (the verdicts, the audit and key commands) start without it.
        from insightface.model_zoo import get_model
        self._model = get_model(str(model_path), providers=list(providers), sess_options=options)
        self._model.prepare(0, det_thresh=threshold)
        self._sizes = sorted(sizes)
        self._threshold = threshold

    @property
    def active_providers(self) -> list[str]:
        return list(self._model.session.get_providers())

    @property
    def configuration(self) -> str:
        """What changes detections besides the model: for caches keyed on results."""
        return f"sizes={self._sizes} threshold={self._threshold}"

    def input_size_for(self, height: int, width: int) -> int:
        """The smallest configured square size holding the image, else the largest."""
        longest = max(height, width)
        return next((size for size in self._sizes if size >= longest), self._sizes[-1])

    def scaled_shape(self, height: int, width: int) -> tuple[int, int]:
        """The image's (height, width) once scaled into its input square: the longer side to
        the square's, the other truncated, in the arithmetic of insightface's
        ``SCRFD._detect_candidates`` so that a side it would round to 0 is known beforehand."""
        size = self.input_size_for(height, width)
        ratio = float(height) / width
        if ratio > 1.0:  # the square's own ratio
            return size, int(size / ratio)
        return int(size * ratio), size

    def detect(self, image: BgrImage) -> list[DetectedFace]:
        """All faces above the detector threshold, best score first; none in an image that
        scales to no pixels (see the module's docstring)."""
        height, width = image.shape[:2]
        if 0 in self.scaled_shape(height, width):
            return []
        size = self.input_size_for(height, width)
        boxes, landmarks = self._model.detect(
            image, input_size=(size, size), det_thresh=self._threshold
        )
        return [
            DetectedFace(
                box=(float(b[0]), float(b[1]), float(b[2]), float(b[3])),
                landmarks=np.asarray(points, dtype=np.float32),
                score=float(b[4]),
            )
            for b, points in zip(boxes, landmarks, strict=True)
        ]
