"""Erasure latency at scale: from the erase request to unsearchable, and to physically gone.

N synthetic subjects (one consent with its signed receipt, one random protected template
each) are written straight into the ledger and the index in bulk: the face model is not run N
times, and a random unit vector is exactly what a protected template looks like to the index
and the database. Each receipt is of the service's own form, the real consent form's wording,
retention policy and notice in it, signed by the service's key; only the person's passkey
assertion inside it is a stand-in of its shape (the sweep verifies the service's signature
alone: :mod:`consent.receipt_ends`). Then
``--erasures`` random subjects are erased through :meth:`OptinFace.erase`, and the timings
the erasure receipt reports are summarised (median, p99), with the time until the index is
saved again in the background under a new key (every erasure destroys every index file's key:
``consent.keys.destroy_index_file_keys``). Then one epoch rotation (every subject key left
re-wrapped; each subject's tombstone hash looked up first, so the key of someone erased is
never re-wrapped: ``consent.epochs``). Then the renewal of every key a ledger from before key
renewal holds, as the first start after the upgrade makes it (``consent.key_renewal.renew_due``,
each key marked as migration 0044 marks it), against that rotation. Last, what that costs a
worker that was stopped meanwhile: its start with its file (loaded) against one after an
erasure (rebuilt).

    python -m benchmarks.bench_erasure --n 10000
    python -m benchmarks.bench_erasure            # 100 000 subjects

Writes benchmarks/results/bench_erasure.json (and _<n>.json) and a PNG next to it.
"""

from __future__ import annotations

import json
import secrets
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import insert, update

from benchmarks.command_line import IntOption, bench_parser
from benchmarks.output import checked, measured, spread, write_json, write_results
from benchmarks.plots import labelled_figure
from optinface.consent import consent_form, key_renewal, ledger, retention_policy
from optinface.consent.crypto import canonical_json, new_key, seal
from optinface.consent.keys import KeyRing, destroy_index_file_keys, template_binding
from optinface.consent.keystore import open_key_store
from optinface.consent.receipts import receipt_for_consent, stated_recipients
from optinface.consent.roles import Actor, Role
from optinface.consent.row_seals import seal_template
from optinface.consent.schemas import ErasureReason, NoticeCreate, Operation, PurposeCreate
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import Consent, Subject, SubjectKey, Template, consent_purposes
from optinface.consent.wording import english

SEED = 20270301
BATCH = 5000


def populate(service: OptinFace, *, n: int, purpose: str, notice: str, seed: int) -> float:
    """Bulk-insert ``n`` subjects with one encrypted template each; returns seconds taken."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    runtime = service.runtime  # the benchmark fills the ledger below the service on purpose
    now = service.clock.now()
    model_id = service.pipeline.model_id
    signer = _Receipts(service, purpose=purpose, notice=notice)
    for start in range(1, n + 1, BATCH):
        ids = list(range(start, min(start + BATCH, n + 1)))
        vectors = rng.standard_normal((len(ids), 512)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        subjects, consents, links, keys, templates = [], [], [], [], []
        for row, subject_id in enumerate(ids):
            pseudonym = "subj_" + secrets.token_hex(12)
            consent_id = f"cns_bench{subject_id}"
            data_key = new_key()
            subjects.append(dict(id=subject_id, pseudonym=pseudonym, status="active",
                                 age_category="adult", jurisdiction="QC", searchable=True,
                                 created_at=now, last_interaction_at=now))
            consent = dict(id=consent_id, subject_id=subject_id, subject_ref=pseudonym,
                           notice_id=notice, notice_version="1", notice_sha256="0" * 64,
                           language="fr-CA", method="e_signature", given_by="self",
                           evidence_sha256="0" * 64, obtained_at=now,
                           expires_at=now + timedelta(days=365),
                           retained_until=now + timedelta(days=3650), status="active")
            consents.append(signer.signed(consent, subject=subjects[-1]))
            links.append(dict(consent_id=consent_id, purpose_id=purpose))
            epoch, wrapped = runtime.keys.wrap(data_key, subject_id=subject_id,
                                               pseudonym=pseudonym)
            keys.append(dict(subject_id=subject_id, created_at=now, epoch=epoch, wrapped=wrapped))
            nonce, ciphertext = seal(data_key, vectors[row].tobytes(), associated=template_binding(
                template_id=subject_id, subject_id=subject_id, model_id=model_id))
            template = dict(id=subject_id, subject_id=subject_id, consent_id=consent_id,
                            model_id=model_id, quality=0.9, nonce=nonce,
                            ciphertext=ciphertext, created_at=now)
            templates.append(_sealed(runtime.keys, template, pseudonym=pseudonym))
        with runtime.db.transaction() as session:
            for table, rows in ((Subject, subjects), (Consent, consents), (SubjectKey, keys),
                                (Template, templates)):
                session.execute(insert(table), rows)
            session.execute(insert(consent_purposes), links)
        runtime.index.add(ids, vectors)
    runtime.index.save()
    runtime.db.checkpoint()
    return time.perf_counter() - started


class _Receipts:
    """Signs each bulk-written consent's receipt as the service signs a consent's (the parts
    every receipt shares read once)."""

    def __init__(self, service: OptinFace, *, purpose: str, notice: str) -> None:
        runtime = service.runtime
        self._keys, self._settings = runtime.keys, runtime.settings
        with runtime.db.transaction() as session:
            self._purpose = ledger.get_purpose(session, purpose)
            self._notice = ledger.get_notice(session, notice)
            wording = consent_form.wording(session, self._settings, english)
            session.expunge_all()
        self._policy = retention_policy.versioned(self._settings)
        self._recipients = stated_recipients(self._settings)
        self._evidence = {"statement": {"wording": wording, "retentionPolicy": self._policy},
                          "assertion": {"id": "A" * 43, "response": {
                              "clientDataJSON": "A" * 300, "authenticatorData": "A" * 50,
                              "signature": "A" * 96}},
                          "credentialPublicKey": "A" * 104, "capacity": "self"}

    def signed(self, row: dict[str, object], *, subject: dict[str, object]) -> dict[str, object]:
        """``row`` with its receipt and the service's signature of it."""
        receipt = receipt_for_consent(
            Consent(**row), subject=Subject(**subject), purposes=[self._purpose],
            notice=self._notice, settings=self._settings, retention_policy=self._policy,
            recipients=self._recipients, public_key=self._keys.public_key,
            subject_signature=self._evidence)
        return {**row, "receipt": receipt,
                "receipt_signature": self._keys.sign(canonical_json(receipt))}


def _sealed(keys: KeyRing, row: dict[str, object], *, pseudonym: str) -> dict[str, object]:
    """``row`` with the seal the service gives a template (a start leaves unsealed ones out)."""
    template = Template(**row)
    seal_template(keys, template, pseudonym=pseudonym)
    return {**row, "seal": template.seal, "owner_hash": template.owner_hash}


def time_full_save(service: OptinFace) -> float:
    """Seconds for one whole-file save at this size (with the old file shredded): the cost an
    enrolment pays once every ``index_save_every`` enrolments."""
    runtime = service.runtime
    runtime.index.add([0], np.eye(1, 512, dtype=np.float32))  # label 0 is no subject's
    started = time.perf_counter()
    runtime.index.save()
    elapsed = time.perf_counter() - started
    runtime.index.remove([0])
    runtime.index.flush_removals()
    return elapsed


def populated(service: OptinFace, *, n: int) -> tuple[Actor, float]:
    """An admin of ``service``, and the seconds taken to fill its ledger with ``n`` subjects
    consenting to one purpose (:func:`populate`)."""
    admin = service.authenticate(
        service.create_api_key(actor=None, role=Role.ADMIN, name="bench").secret)
    purpose = service.create_purpose(actor=admin, body=PurposeCreate(
        name="bench", description="benchmark purpose", legal_basis="consent",
        operations={Operation.ENROL, Operation.IDENTIFY}, retention_days=3650)).id
    notice = service.publish_notice(actor=admin, body=NoticeCreate(
        version="1", language="fr-CA", text="benchmark notice")).id
    return admin, populate(service, n=n, purpose=purpose, notice=notice, seed=SEED)


def run(*, n: int, erasures: int, folder: Path) -> dict[str, object]:
    settings = ConsentSettings(data_dir=folder, index_max_elements=n + 1024)
    service = OptinFace.open(settings)
    try:
        admin, populate_s = populated(service, n=n)
        full_save_s = time_full_save(service)
        with service.runtime.db.transaction() as session:
            from sqlalchemy import select

            pseudonyms = list(session.scalars(select(Subject.pseudonym).order_by(Subject.id)))
        chosen = np.random.default_rng(SEED + 1).choice(len(pseudonyms), erasures, replace=False)
        unsearchable, gone, saved_again = [], [], []
        for position in chosen:
            started = time.perf_counter()
            receipt = service.erase(actor=admin, subject=pseudonyms[position],
                                    reason=ErasureReason.REQUEST)
            service.index.settle()  # the whole save under a new key, in the background
            saved_again.append((time.perf_counter() - started) * 1000)
            unsearchable.append(receipt.unsearchable_ms)
            gone.append(receipt.gone_ms)
        started = time.perf_counter()
        service.rotate_epoch()
        rotation_s = time.perf_counter() - started
        renewal_s, renewed = time_renewal_at_upgrade(service)
        sizes = {p.name: p.stat().st_size for p in folder.rglob("*") if p.is_file()}
    finally:
        service.close()
    starts = time_starts(settings)
    return {
        "n_subjects": n,
        "erasures": erasures,
        "seed": SEED,
        "populate_seconds": round(populate_s, 1),
        "full_save_seconds": round(full_save_s, 4),
        "unsearchable_ms": _summary(unsearchable),
        "gone_ms": _summary(gone),
        "saved_again_ms": _summary(saved_again),
        "rotation_seconds": round(rotation_s, 2),
        "renewal_at_upgrade_seconds": round(renewal_s, 2),
        "keys_renewed_at_upgrade": renewed,
        "renewal_over_rotation": round(renewal_s / rotation_s, 2),
        **starts,
        "samples": {"unsearchable_ms": unsearchable, "gone_ms": gone,
                    "saved_again_ms": saved_again},
        "file_bytes": sizes,
        **measured(),
    }


def time_renewal_at_upgrade(service: OptinFace) -> tuple[float, int]:
    """Seconds for the first start's renewal after an upgrade from before key renewal
    (:func:`consent.key_renewal.renew_due`) of every key left, marked as migration 0044 marks
    them, and how many it renewed: once per deployment, before it serves."""
    with service.runtime.db.transaction() as session:
        session.execute(update(SubjectKey).values(renewal_due=True))
    started = time.perf_counter()
    renewed = key_renewal.renew_due(service.runtime)
    return time.perf_counter() - started, renewed or 0


def time_starts(settings: ConsentSettings) -> dict[str, float]:
    """Seconds for a start that loads the saved index, and for one whose file's key an erasure
    destroyed meanwhile (a stopped worker's, a CLI run's), which rebuilds it from the ledger."""
    started = time.perf_counter()
    OptinFace.open(settings).close()
    loaded = time.perf_counter() - started
    store = open_key_store(settings, create=False)
    try:
        destroy_index_file_keys(store)  # what the next erasure on another worker does
    finally:
        store.close()
    started = time.perf_counter()
    OptinFace.open(settings).close()
    return {"start_loaded_seconds": round(loaded, 2),
            "start_rebuilt_seconds": round(time.perf_counter() - started, 2)}


def _summary(values: list[float]) -> dict[str, float]:
    return spread(values, {"median": 50, "p99": 99, "max": 100}, digits=2)


def plot(result: dict[str, object], path: Path) -> None:
    samples = checked(result, "samples", dict)
    title = f"Erasure latency, {result['n_subjects']:,} subjects ({result['erasures']} erasures)"
    with labelled_figure(path, title=title, xlabel="", ylabel="ms from erase request") as axes:
        axes.boxplot([samples["unsearchable_ms"], samples["gone_ms"], samples["saved_again_ms"]])
        axes.set_xticks([1, 2, 3], ["unsearchable", "physically gone", "index saved again"])
        axes.set_yscale("log")
        axes.axhline(1000, color="red", linestyle="--", label="target 1 s")
        axes.legend()


def main() -> None:
    parser = bench_parser(__doc__, IntOption("--n", 100_000, "subjects in the ledger"),
                          IntOption("--erasures", 50))
    parser.add_argument("--keep", type=Path, default=None,
                        help="data folder to keep (default: a temporary one, deleted)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_erasure_") as temporary:
        result = run(n=args.n, erasures=args.erasures, folder=args.keep or Path(temporary))
    write_json("bench_erasure", result)  # the latest run, whatever its size
    write_results(f"bench_erasure_{args.n}", result, plot)
    print(json.dumps({k: result[k] for k in ("n_subjects", "populate_seconds", "full_save_seconds",
                                              "unsearchable_ms", "gone_ms", "saved_again_ms",
                                              "rotation_seconds", "renewal_at_upgrade_seconds",
                                              "renewal_over_rotation", "start_loaded_seconds",
                                              "start_rebuilt_seconds")},
                     indent=2))


if __name__ == "__main__":
    main()
