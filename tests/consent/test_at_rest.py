"""No plaintext template on disk: every file of the data directory is scanned for unit vectors.

The scan does not look for the templates it knows, but for anything shaped like one: 512
consecutive float32 values (at any byte alignment) whose squares sum to 1 and nearly all of
which are non-zero, as in every protected template and every index row (a template spreads over
all its dimensions: a value under 1e-6 where they are about 0.04 apart is rare, ten in one
template never seen). Random or encrypted bytes read as floats are almost never finite and
small. The density matters: without it, a database page of zeros holding one 4-byte value that
reads as 1.0 (two bytes 80 3F after two small ones) is a "unit vector", which is how one run in
about fifty found one in SQLite's write-ahead log.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from tests.support.consent import World
from tests.support.files import template_bytes

DIM = 512
NEAR_ZERO = 1e-6
DENSE = DIM - 10


def unit_vectors_in(data: bytes) -> int:
    """How many 512-float windows of ``data`` (any alignment) are dense unit vectors."""
    found = 0
    for shift in range(4):
        usable = (len(data) - shift) // 4 * 4
        if usable < DIM * 4:
            continue
        values = np.frombuffer(data, dtype="<f4", count=usable // 4, offset=shift)
        with np.errstate(over="ignore", invalid="ignore"):  # random bytes: huge, inf or NaN
            squares = values.astype(np.float64) ** 2
            outside = ~np.isfinite(squares) | (np.abs(values) > 1)
            spread = ~outside & (np.abs(values) >= NEAR_ZERO)
        squares[outside] = np.inf
        sums = np.convolve(squares, np.ones(DIM), mode="valid")
        non_zero = np.convolve(spread.astype(np.int64), np.ones(DIM, dtype=np.int64), mode="valid")
        found += int(np.count_nonzero((np.abs(sums - 1) < 1e-3) & (non_zero >= DENSE)))
    return found


def test_the_scan_finds_a_template_in_clear_at_any_alignment_and_not_a_lone_one() -> None:
    template = np.random.default_rng(7).standard_normal(DIM).astype("<f4")
    template /= np.linalg.norm(template)
    page = bytes(4096)
    assert unit_vectors_in(page[:4095] + template.tobytes() + page[:3]) > 0
    assert unit_vectors_in(page + np.float32(1.0).tobytes() + page) == 0


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
