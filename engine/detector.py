"""SCRFD face detection (insightface's model-zoo class) with an adaptive input size.

A 250x250 enrolment photo does not need a 640x640 pass: the smallest configured square that
holds the whole image is used, so small images are never downscaled (no loss of small faces)
and are not padded far beyond their size (about 3x less work than 640 at 256).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
from insightface.model_zoo import get_model

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

    def detect(self, image: BgrImage) -> list[DetectedFace]:
        """All faces above the detector threshold, best score first."""
        size = self.input_size_for(*image.shape[:2])
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
