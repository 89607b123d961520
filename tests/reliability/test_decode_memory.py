"""Decode memory is bounded: measured as peak RSS in a fresh process, not estimated.

The corpus item ``png_16_bit_large`` (80 kB of 16-bit PNG, 36 Mpx) peaked at 1 GB through a
float64 conversion. Each measurement runs in its own subprocess and reads the peak from
``/proc/self/status`` (VmHWM): ``resource.getrusage``'s ``ru_maxrss`` would not do, since Linux
carries the parent's peak across fork and exec, and the test session's is several hundred MB.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from optinface.engine.decode import decode_bytes
from tests.corpus.generate import large_16_bit_png
from tests.support.reliability import record

MIB = 1024 * 1024
SIDE = 6000
# One decode of the 36 Mpx item: 2 stored + at most 10 working bytes a pixel is 412 MiB.
ONE_DECODE_LIMIT_MIB = decode_bytes("I;16", SIDE * SIDE) / MIB

MEASURE = """
import json, sys, threading
from optinface.engine.decode import Decoder
from optinface.engine.settings import EngineSettings

def status_kib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)

data = open(sys.argv[1], "rb").read()
threads, slots = int(sys.argv[2]), int(sys.argv[3])
decoder = Decoder(EngineSettings(max_concurrent_decodes=slots))
shapes = []
before = status_kib("VmRSS")
workers = [threading.Thread(target=lambda: shapes.append(decoder.decode(data).shape))
           for _ in range(threads)]
for worker in workers:
    worker.start()
for worker in workers:
    worker.join()
growth = status_kib("VmHWM") - before
print(json.dumps({"growth_mib": growth / 1024, "shapes": shapes}))
"""


def _peak_growth_mib(image: Path, *, threads: int, slots: int) -> float:
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(image), str(threads), str(slots)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    answer = json.loads(done.stdout)
    assert answer["shapes"] == [[SIDE, SIDE, 3]] * threads
    return float(answer["growth_mib"])


def test_a_small_16_bit_png_decodes_within_its_memory_estimate(tmp_path: Path) -> None:
    image = tmp_path / "16bit.png"
    image.write_bytes(large_16_bit_png(SIDE))
    growth = _peak_growth_mib(image, threads=1, slots=1)
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
    growth = _peak_growth_mib(image, threads=3, slots=1)
    record("decode_memory", {"three_at_once_one_slot_peak_growth_mib": round(growth)})
    assert growth < ONE_DECODE_LIMIT_MIB, f"peak RSS grew by {growth:.0f} MiB"
