"""When the retention sweep ends a consent: at the earlier of its row's end and its receipt's.

A consent's end is :attr:`Consent.ends_at`, the one definition, read by the gates in SQL. A
database writer without the key store can push it out (the expiry, the retention); the signed
receipt keeps what the person agreed to (:mod:`consent.authority`). Matching and enrolment ask
the receipt at each use, so such a row grants nothing more; what this module adds is that the
templates stored under it do not outlive the receipt either. The sweep marks a consent whose
receipt has ended ``expired``, as it does one whose row has, and the templates go with it
(:func:`consent.erasure.destroy_ended_templates`); a row that no receipt of its own backs at all
(none, signed by another key, another row's or another subject's) ends at the first sweep that
sees it. The sweeper wakes at the nearest receipt end sooner than its row's
(:func:`consent.retention.next_consent_end`), as it does at the nearest row end.

What it costs: verifying a receipt (its canonical JSON and an Ed25519 signature, about 0.2 ms of
CPU) for every consent in force at every sweep would add 20 s a sweep at 100k subjects. The
receipt's end cannot change without its signature changing, so each answer is kept, per consent,
with a digest of what it was computed from (the receipt's signature, the subject's pseudonym and
the row's purposes): a sweep verifies only the consents given since the last one or whose row
changed in those fields, and compares a digest for the rest. A row rewritten with another
receipt (another row's, one of the operator's making) changes the signature, so it is verified
again; a receipt's body rewritten under its old signature changes nothing the kept answer says,
since that answer is what the signed body stated. The first sweep of a process (at start)
verifies every consent in force once; measured at 10k consents, that reading took 1.9 s of CPU
and each later one 50 ms (5 microseconds a consent), beside the 2 to 3 s the sweep takes to load
its subjects. A row widened while the service runs is found at the next sweep (at the latest
``OPTINFACE_SWEEP_INTERVAL_SECONDS`` later), and until then no search or enrolment uses it.

Where it is paid: not in the sweep's write transaction, which holds the ledger's write lock
(SQLite: every writer waits; PostgreSQL: the advisory lock every transaction takes) and would
hold it 1.9 s more at 10k consents, 19 s at 100k, at each start. The sweep first reads the
consents in force in short reads (:func:`consent.retention.read_receipts`), loading the
receipts of those :meth:`ReceiptEnds.unread`, and verifies them here with no transaction open
(:meth:`ReceiptEnds.read`), keeping each answer under its digest; the write transaction loads
the rows without their receipts and its :meth:`ReceiptEnds.survey` verifies only those whose
digest changed in between (given, or rewritten in their signature, subject or purposes, since
the read), judging every row on what it holds then: its end is read there, never taken from
the read pass. ``benchmarks/bench_sweep.py`` measures the lock held at a first sweep: at 10k
consents on two shared cores (load 10, so every figure several times its idle value), the
write transaction went from 18.8 s to 4.8 s (median of 3), the read pass's reads holding it
1.1 s at most each, 11.6 s in all; a later sweep loads no receipt at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from optinface.consent.authority import Mismatch, receipt_end
from optinface.consent.receipt_keys import ReceiptKeys
from optinface.consent.tables import Consent

_Stated = datetime | Mismatch
"""What a consent's receipt says of its end (:func:`consent.authority.receipt_end`)."""


@dataclass(slots=True)
class Survey:
    """One sweep's reading of the consents in force."""

    ended: list[Consent] = field(default_factory=list)
    """Those whose receipt lets them run no longer: the sweep marks them expired."""
    found: list[tuple[Consent, Mismatch]] = field(default_factory=list)
    """Those found ending later than their receipt since the last survey, and why: chained as
    ``authority_mismatch``."""


def _digest(consent: Consent, pseudonym: str) -> bytes:
    """What the receipt's answer depends on in the row, digested: 16 bytes kept per consent."""
    named = "\0".join([consent.receipt_signature or "", pseudonym,
                       *sorted(p.id for p in consent.purposes)])
    return hashlib.blake2b(named.encode(), digest_size=16).digest()


class ReceiptEnds:
    """The receipts' ends of the consents in force, as the last sweep read them (see the module
    docstring); one per open service."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[bytes, _Stated]] = {}
        self._sooner: dict[str, datetime] = {}
        self._widened: frozenset[str] = frozenset()

    def unread(self, consent: Consent, pseudonym: str) -> bool:
        """Whether the consent's receipt was not read as the row is now (given since, or its
        signature, subject or purposes changed): the rows whose receipts the read pass loads."""
        kept = self._known.get(consent.id)
        return kept is None or kept[0] != _digest(consent, pseudonym)

    def read(self, consents: Iterable[tuple[Consent, str]], *, public_key: ReceiptKeys) -> None:
        """Verify the receipts of ``consents`` (each in force by its row, with its subject's
        pseudonym) not read before as they are now, outside any transaction: what the next
        :meth:`survey` finds unchanged it takes from here. Decides nothing and reports nothing
        (the survey does, on the rows as they are in its transaction)."""
        read = {consent.id: self._answer(consent, pseudonym, public_key=public_key)
                for consent, pseudonym in consents}
        self._known = {**self._known, **read}  # a new mapping: a survey may be reading the old

    def _answer(self, consent: Consent, pseudonym: str, *,
                public_key: ReceiptKeys) -> tuple[bytes, _Stated]:
        """The row's digest and its receipt's answer: the one kept under that digest, else
        verified now."""
        digest = _digest(consent, pseudonym)
        kept = self._known.get(consent.id)  # once: another sweep may replace the mapping
        if kept is not None and kept[0] == digest:
            return kept
        return digest, receipt_end(consent, pseudonym=pseudonym, public_key=public_key)

    def survey(self, consents: Iterable[tuple[Consent, str]], *, public_key: ReceiptKeys,
               now: datetime) -> Survey:
        """Read ``consents`` (each in force by its row, with its subject's pseudonym) against
        their receipts, verifying only those not read before as they are now (by :meth:`read`
        or an earlier survey)."""
        known: dict[str, tuple[bytes, _Stated]] = {}
        sooner: dict[str, datetime] = {}
        widened: set[str] = set()
        survey = Survey()
        for consent, pseudonym in consents:
            known[consent.id] = self._answer(consent, pseudonym, public_key=public_key)
            stated = known[consent.id][1]
            if isinstance(stated, datetime) and stated >= consent.ends_at:
                continue
            widened.add(consent.id)
            if consent.id not in self._widened:
                why = stated if isinstance(stated, Mismatch) else Mismatch.LATER_END
                survey.found.append((consent, why))
            if isinstance(stated, Mismatch) or stated <= now:
                survey.ended.append(consent)
            else:
                sooner[consent.id] = stated
        self._known, self._sooner, self._widened = known, sooner, frozenset(widened)
        return survey

    def next_end(self) -> datetime | None:
        """The nearest receipt end, among the consents in force at the last survey, that comes
        before its row's end; None when there is none."""
        return min(self._sooner.values(), default=None)
