# ruff: noqa: E501  (the markdown table rows of WHAT)
"""Run tests/reliability and write docs/reliability.md from the figures the tests record.

Usage: python -m benchmarks.reliability_report [--no-run]   (--no-run: render existing figures)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "reliability.md"

WHAT = """\
| Test | What was tried | What must hold |
|---|---|---|
| test_corpus_routes | every bad-input corpus item through enrol, identify, verify, portal upload | documented 4xx code (JSON `code`), never 5xx; refusals write no template, index entry or file; peak RSS growth < 500 MB |
| test_crash | `kill -9` of a real server (code of `optinface serve`) at random points while a client enrols/erases; kills of the retention sweep and of index saves | every index label has an active template; acknowledged enrolments kept; erased subjects absent from ledger, index labels and raw bytes of db/WAL/index; audit chain verifies; index file is the old or the new version; no key in server logs |
| test_concurrency | threads enrolling, identifying, withdrawing and erasing on shared subjects; threads hammering one key | no lost acknowledged enrolment; no search started after an erasure returned shows the subject; no deadlock; only domain refusals; rate limit and daily quota exact |
| test_secrets | DB/WAL byte scans, key file modes, caplog and audit scans | secrets hashed; keys 0600 and never logged; templates ciphertext at rest; revoked key, expired token and other-subject token refused and audited |
| test_rotation | `rotate_epoch`, `rekey_templates`, CLI `keys rotate-epoch` and `protect rekey` across a restart; a re-key interrupted after or before its transaction committed (also on a ledger from before migration 0025) | identify results unchanged (1e-4); the old epoch key is destroyed and unwraps nothing; old rotation matches nothing; no old key byte left in the key store; both audited; the next start puts in place the staged key the ledger's check names, or leaves it unused for the next re-key |
| test_fuzz | hypothesis on the decoder and on API bodies/ids (SQL-looking text, 1 MB strings) | only InvalidImage/ImageTooLarge; never 5xx; one error shape; refusals store nothing |
| test_decode_memory | the 80 kB 16-bit PNG of 36 Mpx (corpus `png_16_bit_large`) decoded in a fresh process, alone and three at once with one decode slot | peak RSS growth (VmHWM) under the header's estimate (2 + 10 bytes a pixel: 412 MiB); was 1 GB |
"""

AUDIT = """\
## The audit log against someone who can write the data

Tested in `tests/api/test_cli_audit.py`, `tests/consent/test_audit.py`, `test_audit_witness.py`
and `test_merkle.py` (RFC 6962 vectors), each shown failing once against the weakened verifier it
guards against. With `sqlite3` on the database file: an edited, deleted, inserted or reordered
event is named by its sequence number; an edit whose own hash is recomputed is named at the next
event (broken `prev_hash` link); a truncated tail (even with the checkpoint rows above it
deleted), emptied tables, a deleted database and deleted checkpoint rows fail against the
witness folder; deleting the events a reviewer's saved checkpoint covers fails `--against` that
file alone; a consistent rewrite with recomputed hashes and roots fails on the checkpoint
signatures. `audit verify` leaves every byte of the data, key and witness folders unchanged and
creates no key. A rolled-back transaction never reaches the witness folder. The bound: events
after the last witnessed checkpoint (at most `OPTINFACE_AUDIT_WITNESS_INTERVAL_SECONDS`, 60 s,
while the server runs) are only as safe as the database; the witness folder is only as safe as
its mount (append-only or WORM, separate from the data).
"""


GUARANTEES = """\
## Guarantees of an erasure and their time bounds

| Guarantee | What it covers | Time bound | Tests |
|---|---|---|---|
| unsearchable | every search started after the erasure call returns | at once | test_concurrency, tests/consent/test_lifecycle |
| gone from the files | template rows, wrapped subject key (row and bytes), tokens, the index slot (re-encrypted in place), the WAL | at once, in the same call | test_crash, tests/consent/test_epochs (`no_wrapped_key_row`) |
| undecryptable in backups | any copy of the database or index made before the erasure, even together with the key store | the next epoch boundary (`OPTINFACE_KEY_EPOCH_HOURS`, 24 h), stated in the receipt | tests/consent/test_epochs, tests/consent/test_restore |
| never resurrected | a data directory restored from a disk snapshot or by `optinface restore`: what was ended since is ended again (erasures, consent withdrawals, purposes withdrawn from a consent, templates destroyed while their subject stays, API-key revocations, opt-outs of 1:N search, choices of the non-biometric alternative), break-glass openings are chained again and admin passkeys bound again | before it serves (erasure journal replay) | tests/consent/test_restore |
| no plaintext template on disk | every file of the data directory (the index is encrypted per segment; keys live apart) | always | tests/consent/test_at_rest, tests/engine/test_index |

"""


KNOWN_GAPS = [
    "- Below the file level, blocks that SQLite frees when it truncates its WAL are not zeroed,"
    " and copy-on-write file systems and SSDs keep older copies whatever a program does: the"
    " data directory belongs on an encrypted volume (index files are zeroed before they are"
    " replaced; what remains is ciphertext, bounded by the epoch rotation like backups).",
    "- A backup older than the current key epoch restores consents, receipts and the audit log"
    " but not templates: their epoch key is destroyed, as the erasure guarantee requires, and"
    " the subjects enrol again.",
    "- Portal web sessions are held in memory: a restart logs subjects out (their data is"
    " untouched).",
    "- The Dockerfile is linted (hadolint) and checked against the CLI but was never built"
    " here: no Docker engine.",
]


def main() -> None:
    out = Path(os.environ.get("OPTINFACE_RELIABILITY_OUT")
               or Path(tempfile.gettempdir()) / "optinface-reliability")
    status = "not run (rendered from recorded figures)"
    if "--no-run" not in sys.argv:
        for old in out.glob("*.json"):
            old.unlink()
        env = {**os.environ, "OPTINFACE_RELIABILITY_OUT": str(out)}
        code = subprocess.call([sys.executable, "-m", "pytest", "tests/reliability", "-q",
                                "-p", "no:cacheprovider"], cwd=ROOT, env=env)
        status = "passed" if code == 0 else f"FAILED (exit {code})"
    figures = {p.stem: json.loads(p.read_text()) for p in sorted(out.glob("*.json"))}
    lines = ["# Reliability", "",
             "Regenerate with `python -m benchmarks.reliability_report`.", "",
             f"Test run: {status}.", "", GUARANTEES, WHAT, AUDIT, "## Figures", ""]
    for name, values in figures.items():
        lines += [f"### {name}", "", "```json", json.dumps(values, indent=2, sort_keys=True),
                  "```", ""]
    lines += ["## Known gaps", "", *KNOWN_GAPS, ""]
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text("\n".join(lines))
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
