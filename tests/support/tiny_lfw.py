"""A tiny LFW-shaped folder, cut from the photo insightface ships, for the benchmark tests.

Four people with five images each (the portrait and four variants of it: flipped, cropped,
darker, smaller) and two people with a single image (the distractors), plus a ``pairs.txt`` in
the official format with two folds of three same and three different pairs. No photo of a real
person is committed; the people of the sample photo are known here only by made-up names.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2

from optinface.engine.decode import BgrImage
from optinface.engine.samples import Variant, variant

NAMES = ["Person_A", "Person_B", "Person_C", "Person_D", "Person_E", "Person_F"]
SEVERAL = 4  # the first four people have five images; the last two have one
PAIRS = """2\t3
Person_A\t1\t2
Person_B\t1\t3
Person_C\t2\t4
Person_A\t1\tPerson_B\t2
Person_C\t3\tPerson_E\t1
Person_D\t1\tPerson_F\t1
Person_D\t1\t5
Person_A\t3\t5
Person_B\t2\t4
Person_A\t2\tPerson_C\t1
Person_B\t5\tPerson_D\t3
Person_E\t1\tPerson_F\t1
"""


def write_tiny_lfw(root: Path, portraits: Sequence[BgrImage]) -> Path:
    """Write the folder under ``root`` from the six sample portraits; returns ``root``."""
    for person, (name, portrait) in enumerate(zip(NAMES, portraits, strict=True)):
        images = [portrait]
        if person < SEVERAL:
            images += [variant(portrait, kind) for kind in Variant]
        (root / name).mkdir()
        for number, image in enumerate(images, start=1):
            cv2.imwrite(str(root / name / f"{name}_{number:04d}.jpg"), image)
    (root / "pairs.txt").write_text(PAIRS)
    return root
