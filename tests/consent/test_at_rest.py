"""No plaintext template on disk: every file of the data directory is scanned for unit vectors.

The scan does not look for the templates it knows, but for anything shaped like one: 512
consecutive float32 values (at any byte alignment) whose squares sum to 1, as every protected
template and every index row does. Random or encrypted bytes read as floats are almost never
finite and small, so one hit means a template in clear.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from tests.consent.conftest import World
from tests.support.files import template_bytes

DIM = 512


def unit_vectors_in(data: bytes) -> int:
    """How many 512-float windows of ``data`` (any alignment) are unit vectors."""
    found = 0
    for shift in range(4):
        usable = (len(data) - shift) // 4 * 4
        if usable < DIM * 4:
            continue
        values = np.frombuffer(data, dtype="<f4", count=usable // 4, offset=shift)
        with np.errstate(over="ignore", invalid="ignore"):  # random bytes: huge, inf or NaN
            squares = values.astype(np.float64) ** 2
        squares[~np.isfinite(squares) | (np.abs(values) > 1)] = np.inf
        sums = np.convolve(squares, np.ones(DIM), mode="valid")
        found += int(np.count_nonzero(np.abs(sums - 1) < 1e-3))
    return found


def files_holding_templates(folder: Path) -> list[str]:
    return [str(path) for path in sorted(folder.rglob("*"))
            if path.is_file() and unit_vectors_in(path.read_bytes())]


def test_no_file_of_the_data_directory_holds_a_plaintext_template(
    world: World, service: OptinFace, settings: ConsentSettings, portrait_jpegs: list[bytes],
) -> None:
    enrolled = []
    for jpeg in portrait_jpegs[:4]:
        pseudonym, consent = world.subject()
        enrolled.append(world.enrol(pseudonym, consent, jpeg))
    service.index.save()
    # The scan finds what it is looking for: a protected template is a unit vector.
    assert unit_vectors_in(template_bytes(service, enrolled[0].id)[1]) == 1
    assert files_holding_templates(settings.data_dir) == []
