"""How the audit log names a person: a pseudonym beside its salted hash; after erasure, the hash.

An erasure must leave the search log only a salted hash of the person (compliance matrix X-ERA,
step 3), yet the log is a hash chain: rewriting a row's pseudonym would break it. So an event
does not hash its pseudonyms. Each one gets a *seal*, ``SHA-256(salt || pseudonym)`` with a
fresh random salt, and the event's hashed bytes hold the seals' hashes in place of the
pseudonyms (:func:`optinface.consent.audit.hashed_fields`). Details that speak of one subject
(a search's scores and review ids) are keyed by the seal's hash too, and the subject's own data
(their photo's SHA-256) is sealed with their salt.

While the person exists, the row keeps the pseudonym and the salt, so anyone holding an export can
check that the pseudonym is the one the chain committed to (:func:`problem`). An erasure removes
both (:func:`forget`): what stays is a hash that no one can link to the pseudonym, not even someone
who knows it, and every event still verifies (on PostgreSQL, until the row's old version, which
still holds both, is overwritten: :mod:`consent.residue`). The erasure's own event lists the seals
it forgets (:attr:`Mentions.seals`), chained before they are forgotten, so a salt removed without
an erasure (hiding who was searched while the person still exists) is reported. Events written
before migration 0019 have no seals and hash their pseudonyms; they keep them.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, String, cast, select
from sqlalchemy.orm import Session
from typing_extensions import TypedDict  # pydantic reads it on Python 3.11

from optinface.consent.tables import AuditEvent

SALT_BYTES = 16
SUBJECT_KEYED_DETAILS = ("scores", "review_ids")
"""Details whose keys are subjects: stored keyed by the seal's hash, never by the pseudonym."""
SUBJECT_SEALED_DETAILS = {"photo_sha256": "photo_seal"}
"""Details that are their one subject's own data (the SHA-256 of their photo): stored under the
new name as ``SHA-256(salt || value)`` with that subject's salt. While the subject exists, an
auditor holding the photo checks it; once an erasure forgets the salt, holding the photo finds
nothing (a bare hash would lead whoever has the photo to the person's events)."""
FORGOTTEN = "forgotten_seals"
"""The detail of an erasure's event that lists the seals it forgets."""
_NOT_COMMITTED = "names subjects its seals do not commit to (edited)"


class Seal(TypedDict):
    hash: str
    salt: str | None  # None once the subject is erased


def salted_hash(salt: str, pseudonym: str) -> str:
    """``SHA-256(salt || pseudonym)``, the salt given in hex: a seal's hash, and the erasure
    receipt's commitment to its pseudonym (:mod:`consent.erasure_receipts`).

    Raises:
        ValueError: ``salt`` is not hex.
    """
    return hashlib.sha256(bytes.fromhex(salt) + pseudonym.encode()).hexdigest()


def seal(pseudonym: str) -> Seal:
    """A new seal of ``pseudonym``: its own random salt, so two events' seals never match."""
    salt = secrets.token_bytes(SALT_BYTES).hex()
    return Seal(hash=salted_hash(salt, pseudonym), salt=salt)


def sealed_details(details: Mapping[str, Any], seals: Mapping[str, Seal]) -> dict[str, Any]:
    """``details`` with each subject-keyed detail keyed by the subject's seal hash instead, and
    each of the subject's own data sealed with their salt."""
    sealed: dict[str, Any] = {}
    for name, value in details.items():
        if name in SUBJECT_KEYED_DETAILS:
            sealed[name] = {seals[p]["hash"]: v for p, v in value.items()}
        elif name in SUBJECT_SEALED_DETAILS:
            (only,) = seals.values()  # one subject's own data: an event about them alone
            assert only["salt"] is not None  # a new seal keeps its salt
            sealed[SUBJECT_SEALED_DETAILS[name]] = salted_hash(only["salt"], value)
        else:
            sealed[name] = value
    return sealed


def seal_of(event: Any, pseudonym: str) -> str | None:
    """The hash that stands for ``pseudonym`` in ``event``; the pseudonym itself in an event
    from before seals, None if the event does not name them."""
    if event.subject_seals is None:
        return pseudonym if pseudonym in event.subjects else None
    return next((s["hash"] for s in event.subject_seals
                 if s["salt"] is not None and salted_hash(s["salt"], pseudonym) == s["hash"]), None)


def problem(subjects: Sequence[str], seals: Sequence[Mapping[str, Any]] | None) -> str | None:
    """Why the pseudonyms a row shows are not those its seals commit to, or None.

    Each pseudonym must open exactly one salted seal and each salted seal exactly one pseudonym:
    a pseudonym changed, added, repeated or removed with its salt kept is an edit the chain
    cannot see. (A salt removed with its pseudonym must be an erasure's: :func:`unsalted`.)
    """
    if seals is None:
        return None  # before seals: the pseudonyms themselves are hashed
    salted = [s for s in seals if s["salt"] is not None]
    try:
        opened = [[p for p in subjects if salted_hash(s["salt"], p) == s["hash"]] for s in salted]
    except ValueError:  # a salt that is not hex opens no pseudonym
        return _NOT_COMMITTED
    if (len(set(subjects)) != len(subjects) or len(salted) != len(subjects)
            or any(len(names) != 1 for names in opened)
            or sorted(n for names in opened for n in names) != sorted(subjects)):
        return _NOT_COMMITTED
    return None


def unsalted(seals: Sequence[Mapping[str, Any]] | None) -> set[str]:
    """The seals whose pseudonym is gone: each must be one an erasure's event lists."""
    return {s["hash"] for s in seals or () if s["salt"] is None}



def mentions(pseudonym: str) -> ColumnElement[bool]:
    """Audit events naming ``pseudonym``.

    Pseudonyms are random hex tokens, so a quoted substring match on the JSON list is exact.
    """
    return cast(AuditEvent.subjects, String).contains(f'"{pseudonym}"')


@dataclass(frozen=True, slots=True)
class Mentions:
    """The events naming one pseudonym, found by one scan of the log (its JSON is not indexed)."""

    pseudonym: str
    sealed: list[AuditEvent]
    unsealed: int  # events from before seals: their chain hash covers the pseudonym, kept

    @property
    def seals(self) -> list[str]:
        """The seals that stand for the pseudonym: an erasure names them in its own event
        (``details[FORGOTTEN]``) before it forgets them, so that a salt removed by anyone else
        is an edit the verification reports."""
        return sorted(h for event in self.sealed
                      if (h := seal_of(event, self.pseudonym)) is not None)


def find(session: Session, pseudonym: str) -> Mentions:
    """Every event naming ``pseudonym``, for an erasure to list, forget and count."""
    events = list(session.scalars(select(AuditEvent).where(mentions(pseudonym))))
    sealed = [event for event in events if event.subject_seals is not None]
    return Mentions(pseudonym=pseudonym, sealed=sealed, unsealed=len(events) - len(sealed))


def forget(events: Iterable[AuditEvent], pseudonym: str) -> int:
    """Remove ``pseudonym`` and its salts from ``events`` (sealed ones); how many held it."""
    count = 0
    for event in events:
        mine = seal_of(event, pseudonym)
        event.subjects = [p for p in event.subjects if p != pseudonym]
        event.subject_seals = [{"hash": s["hash"], "salt": None} if s["hash"] == mine else s
                               for s in event.subject_seals or ()]
        count += 1
    return count
