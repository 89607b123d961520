"""Cost of asking the key store for the receipt key in force at each signature and check.

Usage: python -m benchmarks.bench_receipt_key_in_force [--rounds 2000]

On a shared ledger (PostgreSQL, several workers) another worker may rotate the receipt key
while this one runs, so each signature and each check of a stored receipt first reads the key
store's retired record (``consent.receipt_key_in_force``, ``KeyRing.receipt_keys``). This times,
on a real file key store holding one retired key, a consent-sized receipt signed as before
(the baseline of the same run) and the same with the key store asked first (after), the two
taking turns round by round, and the check alone. Writes ``results/bench_receipt_key_in_force
.json`` and ``.png``. A PKCS#11 token is not timed here: there the read is a token lookup.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.command_line import IntOption, run_counted
from benchmarks.plots import labelled_figure
from optinface.consent.crypto import canonical_json
from optinface.consent.keys import SIGNING_KEY_NAME, KeyRing, public_key_of
from optinface.consent.keystore import open_key_store
from optinface.consent.receipt_keys import RETIRED_KEYS_NAME, RetiredKey, with_retired
from optinface.consent.settings import ConsentSettings

RECEIPT = {"version": "KI-CR-v1.1.0", "consentReceiptID": "c" * 32, "piiPrincipalId": "subj_x",
           "consentTimestampISO": "2027-03-01T12:00:00+00:00",
           "services": [{"purposes": [{"purpose": "study A " * 20}]}] * 3,
           "publicKey": "k" * 44, "subjectSignature": {"signature": "s" * 88}}


def _keys(folder: Path) -> KeyRing:
    """A real file key store with a receipt key and one retired, opened shared."""
    settings = ConsentSettings(data_dir=folder / "var", keys_dir=folder / "keys")
    store = open_key_store(settings, create=True)
    KeyRing.open(store, needed=())  # makes the keys
    old = public_key_of(store.read_secret(SIGNING_KEY_NAME) or b"")
    record = with_retired((), RetiredKey(public_key=old, retired_at=datetime.now(UTC),
                                         reason="bench"))
    store.put_secret(RETIRED_KEYS_NAME, record)
    return dataclasses.replace(KeyRing.open(store, needed=()), shared=True)


def _medians(steps: tuple[Callable[[], object], ...], rounds: int) -> list[float]:
    """Each step's median time, the steps taking turns, so a passing load falls on all alike."""
    times: list[list[float]] = [[] for _ in steps]
    for _ in range(rounds):
        for step, taken in zip(steps, times, strict=True):
            start = time.perf_counter()
            step()
            taken.append(time.perf_counter() - start)
    return [statistics.median(taken) for taken in times]


def run(rounds: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        keys = _keys(Path(folder))
        assert keys.receipt_keys.retired == keys.retired  # nothing rotated: the common case
        message = canonical_json(RECEIPT)
        before, after, check = _medians((
            lambda: keys.sign(message),
            lambda: (keys.receipt_keys, keys.sign(message)),
            lambda: keys.receipt_keys), rounds)
    result = {"benchmark": "bench_receipt_key_in_force", "rounds": rounds,
              "sign_microseconds": round(before * 1e6, 1),
              "ask_store_then_sign_microseconds": round(after * 1e6, 1),
              "ask_store_microseconds": round(check * 1e6, 1),
              "ratio": round(after / before, 2),
              "machine": "shared, 2 cores, other agents running"}
    print(json.dumps(result))
    return result


def plot(result: dict[str, object], path: Path) -> None:
    labels = ["sign (before)", "ask the key store, sign (after)", "ask the key store alone"]
    values = [result["sign_microseconds"], result["ask_store_then_sign_microseconds"],
              result["ask_store_microseconds"]]
    with labelled_figure(path, title="Receipt key in force: one key store read per signature",
                         xlabel="", ylabel="microseconds (median)") as axes:
        axes.bar(labels, [float(str(v)) for v in values])


def main() -> None:
    run_counted("bench_receipt_key_in_force", __doc__, run, plot,
                IntOption("--rounds", 2000, "rounds, the steps in turn"))


if __name__ == "__main__":
    main()
