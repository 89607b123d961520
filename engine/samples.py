"""Face images made from the photo that the installed insightface package ships.

Tests, the demo and the harness's self-check need faces without committing photos of real
people to the project: ``t1.jpg`` (six different people) is cut into six single-face
portraits, and flips, crops and lighting changes of a portrait give same-person pairs.
"""

from __future__ import annotations

from enum import StrEnum
from importlib.util import find_spec
from pathlib import Path

import cv2
import numpy as np

from optinface.engine.decode import BgrImage
from optinface.engine.detector import FaceDetector


def _installed_insightface() -> Path:
    """The installed insightface package's folder, found without importing it (its import
    costs every command's start 0.7 s, :mod:`engine.detector`; only the models need it)."""
    spec = find_spec("insightface")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("insightface is not installed", name="insightface")
    return Path(spec.origin).parent


GROUP_PHOTO = _installed_insightface() / "data" / "images" / "t1.jpg"
PORTRAIT_MARGIN = 2.0  # crop side / face side: ~250 px portraits holding exactly one face


class Variant(StrEnum):
    """Changes that keep the identity of a portrait."""

    FLIP = "flip"
    CROP = "crop"
    DARKER = "darker"
    SMALLER = "smaller"


def group_photo() -> BgrImage:
    image = cv2.imread(str(GROUP_PHOTO))
    if image is None:
        raise FileNotFoundError(f"insightface sample photo missing at {GROUP_PHOTO}")
    return np.asarray(image, dtype=np.uint8)


def portraits(detector: FaceDetector) -> list[BgrImage]:
    """The six people of the group photo, left to right, one square portrait each."""
    photo = group_photo()
    faces = sorted(detector.detect(photo), key=lambda face: face.box[0])
    crops = []
    for face in faces:
        side = max(face.width, face.height) * PORTRAIT_MARGIN
        centre_x = (face.box[0] + face.box[2]) / 2
        centre_y = (face.box[1] + face.box[3]) / 2
        top, left = int(max(centre_y - side / 2, 0)), int(max(centre_x - side / 2, 0))
        crops.append(photo[top : int(centre_y + side / 2), left : int(centre_x + side / 2)].copy())
    return crops


def variant(image: BgrImage, kind: Variant) -> BgrImage:
    """The same person, changed as ``kind`` says."""
    height, width = image.shape[:2]
    if kind is Variant.FLIP:
        return np.ascontiguousarray(image[:, ::-1])
    if kind is Variant.CROP:
        dy, dx = height // 12, width // 12
        return image[dy : height - dy, dx : width - dx].copy()
    if kind is Variant.DARKER:
        return np.asarray(cv2.convertScaleAbs(image, alpha=0.7, beta=-10), dtype=np.uint8)
    smaller = cv2.resize(image, (width * 3 // 4, height * 3 // 4), interpolation=cv2.INTER_AREA)
    return np.asarray(smaller, dtype=np.uint8)


def encode(image: BgrImage, extension: str = ".jpg") -> bytes:
    """Encode pixels as an upload would arrive (JPEG by default)."""
    ok, buffer = cv2.imencode(extension, image)
    if not ok:
        raise ValueError(f"OpenCV could not encode {extension}")
    return buffer.tobytes()
