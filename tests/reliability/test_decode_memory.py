"""Decode memory is bounded: measured as peak RSS in a fresh process, not estimated.

The corpus item ``png_16_bit_large`` (80 kB of 16-bit PNG, 36 Mpx) peaked at 1 GB through a
float64 conversion. Each measurement runs in its own subprocess and reads the peak from
``/proc/self/status`` (VmHWM): ``resource.getrusage``'s ``ru_maxrss`` would not do, since Linux
carries the parent's peak across fork and exec, and the test session's is several hundred MB.

Uploads are measured as the server runs them: on a pool of long-lived threads, through the
pipeline (decode, detection and alignment inside the decode slot). Eight 40 Mpx RGBA PNGs
at once held 4.3 GB in the server (outside test): each worker thread's allocator arena kept its
own decode's peak (:mod:`engine.allocator`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from optinface.engine.decode import decode_bytes
from tests.corpus.generate import large_16_bit_png, large_rgba_png
from tests.support.reliability import record

MIB = 1024 * 1024
SIDE = 6000
RGBA_SIDE = 6300  # 39.7 Mpx, under the 40 Mpx limit
# One decode of the 36 Mpx item: 2 stored + at most 10 working bytes a pixel is 412 MiB.
ONE_DECODE_LIMIT_MIB = decode_bytes("I;16", SIDE * SIDE) / MIB

MEASURE = """
import json, sys
from concurrent.futures import ThreadPoolExecutor
from optinface.engine.errors import NoFace
from optinface.engine.pipeline import FacePipeline
from optinface.engine.settings import EngineSettings

def status_kib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)

data = open(sys.argv[1], "rb").read()
uploads, slots = int(sys.argv[2]), int(sys.argv[3])
pipeline = FacePipeline.from_settings(EngineSettings(max_concurrent_decodes=slots))

def upload(_):
    try:
        pipeline.embed_single(data)
    except NoFace:  # a flat image: decoded, detected, refused
        return "no_face"
    return "embedded"

before = status_kib("VmRSS")
with ThreadPoolExecutor(max_workers=uploads) as pool:  # a thread each, kept, like a server's
    answers = list(pool.map(upload, range(uploads)))
    growth, kept = status_kib("VmHWM") - before, status_kib("VmRSS") - before
print(json.dumps({"growth_mib": growth / 1024, "kept_mib": kept / 1024, "answers": answers}))
"""


def _measure(image: Path, *, uploads: int, slots: int) -> dict[str, float]:
    """Peak and kept RSS growth (MiB) of ``uploads`` uploads of ``image`` at once, each on its
    own thread, through ``slots`` decode slots."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(image), str(uploads), str(slots)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    answer = json.loads(done.stdout)
    assert answer["answers"] == ["no_face"] * uploads
    return {"growth": float(answer["growth_mib"]), "kept": float(answer["kept_mib"])}


def test_a_small_16_bit_png_decodes_within_its_memory_estimate(tmp_path: Path) -> None:
    image = tmp_path / "16bit.png"
    image.write_bytes(large_16_bit_png(SIDE))
    growth = _measure(image, uploads=1, slots=1)["growth"]
    record(
        "decode_memory",
        {
            "png16_36mpx_file_kb": image.stat().st_size // 1024,
            "png16_36mpx_peak_growth_mib": round(growth),
            "png16_36mpx_estimate_mib": round(ONE_DECODE_LIMIT_MIB),
        },
    )
    assert growth < ONE_DECODE_LIMIT_MIB, f"peak RSS grew by {growth:.0f} MiB"


def test_concurrent_decodes_wait_for_a_slot(tmp_path: Path) -> None:
    """Three uploads at once with one decode slot: one decode's memory, not three."""
    image = tmp_path / "16bit.png"
    image.write_bytes(large_16_bit_png(SIDE))
    growth = _measure(image, uploads=3, slots=1)["growth"]
    record("decode_memory", {"three_at_once_one_slot_peak_growth_mib": round(growth)})
    assert growth < ONE_DECODE_LIMIT_MIB, f"peak RSS grew by {growth:.0f} MiB"


@pytest.mark.slow
def test_eight_uploads_at_once_stay_within_two_decodes_and_give_their_memory_back(
    tmp_path: Path,
) -> None:
    """The documented bound (``docs/consent.md``), slots x OPTINFACE_MAX_DECODE_BYTES, on the
    server's shape of work: eight 40 Mpx RGBA uploads on eight threads, two decode slots."""
    image = tmp_path / "rgba.png"
    image.write_bytes(large_rgba_png(RGBA_SIDE))
    slots = 2
    measured = _measure(image, uploads=8, slots=slots)
    limit = slots * decode_bytes("RGBA", RGBA_SIDE * RGBA_SIDE) / MIB
    record("decode_memory", {"rgba_40mpx_eight_uploads_peak_growth_mib": round(measured["growth"]),
                             "rgba_40mpx_eight_uploads_kept_mib": round(measured["kept"]),
                             "rgba_40mpx_two_slots_limit_mib": round(limit)})
    assert measured["growth"] < limit, f"peak RSS grew by {measured['growth']:.0f} MiB"
    assert measured["kept"] < limit / slots, f"{measured['kept']:.0f} MiB kept after"
