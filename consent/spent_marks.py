"""A single-use right, once used, is marked in the witness folder before its act commits:
whoever writes the database alone cannot make it usable again.

Two rights were single-use only by their row's use mark, the database's to clear: a passkey
challenge (within its lifetime, ``challenge_seconds``: after it,
:func:`consent.passkeys.require_signed_recently` refuses the answer whatever a row says) and a
probe consent (until it expires, ``enrolment_link_minutes`` after it was asked). Whoever could
write the ledger cleared the mark and used the right again: an answer seen passing or read in
a receipt (it embeds the person's assertion) made a consent again a minute after the person
withdrew it, or opened a second session in their name; a researcher holding the probe ran
the search the person in it agreed to once, again and again. A one-time link was single-use
by its row's mark too: the desk that handed it out keeps its secret, and with the database
alone could clear the mark, delete the person's passkey and register its own on the link (or on
one the person's registration voided), then sign in their name. The mark here is a file named
by the SHA-256 of what the right is (:func:`challenge`, :func:`probe_consent`, :func:`link`) in
``spent/<its first two hex digits>/``, created once (:func:`consent.witness.write_once`) in
the folder kept apart from the data, on an append-only mount in production. A right whose
mark exists is used, its row cleared or not: the mark is claimed as the act commits
(:func:`claim_on_commit`), where the file's creation, which only one caller can win, is the
record, and a claim that finds it made already refuses the act, rolled back. A challenge's
mark is also asked when it is taken (:func:`used`, in :func:`consent.passkeys.take_ceremony`),
so that the answer posted again is refused as what it is before its signature is checked,
whose sign count would otherwise name it a passkey error.

Why a file of its own and not a line of the erasure journal, which holds what must be done
again after a restore: a mark serves only while its right lives, and every sign-in and every
search writes one; in the journal, every start would read them all, forever. A mark older than
the longest a right lives protects nothing any more, so whoever keeps the folder may delete the
old ones (by modification time); the service never deletes one. A mark names a hash, never a
person, a pseudonym or a key.

It is written when the act's transaction commits, before the database's commit: an act
refused in its transaction (a challenge taken, then a refusal) marks nothing, and its right
may be used again while it lives, as before; a commit that fails once the mark is written
leaves the right spent with nothing done (the person asks for a new challenge, the researcher
for a new probe consent). A folder that takes no write refuses the act (``witness_unusable``,
nothing committed), except one that ends processing, which is done though unmarked, with an
error line: the witness gate lets only those through a stalled folder
(:mod:`consent.witness_gate`), and one done twice ends the same processing again.

A folder taken up in place of a lost witness (:func:`consent.transparency.record_adoption`)
holds none of the lost folder's marks: a right used shortly before, still alive, could be used
again by whoever also cleared its row. So the adoption writes its instant in ``marks-from/``
(:func:`marks_begin`), and a right issued before the newest such instant is taken as used
(:func:`used`, :func:`issued_before_marks`): by its signed time, which the database's writer
cannot move (a challenge's statement, whose hash the person's device signed; a probe
consent's receipt, signed by the service's key). Its person asks for a new one. That time is
the issuing worker's clock, which may run ahead of the adopting start's by as much as workers'
clocks drift apart (:data:`consent.log_clock.TOLERANCE`): a right signed that little after the
instant is taken as used too, so one issued just before the loss on such a clock is not used
again; one asked in those first seconds after an adoption is asked again. A one-time link is
dated by its keyed hash (:func:`consent.passkeys.unspent`): one made before the adoption opens
nothing. A registration's random challenge has no signed time, but it completes only through
its link (:func:`consent.passkeys.register`): one asked on a link before the loss completes
nothing.
"""

from __future__ import annotations

import hashlib
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session

from optinface.consent import log_clock
from optinface.consent.errors import ConsentError, WitnessUnusable
from optinface.consent.witness import write_once
from optinface.engine.files import PUBLISHED_DIR_MODE, fsync_directory

logger = logging.getLogger(__name__)

SPENT = "spent"
"""The witness folder's subfolder of marks."""
SUFFIX = ".spent"
MARKS_FROM = "marks-from"
"""The witness folder's subfolder that says from when its marks are whole: a file an adoption,
named by its instant (:data:`_STAMP`, in UTC: the names sort as the instants do)."""
_STAMP = "%Y%m%dT%H%M%S%fZ"


def challenge(signed: bytes) -> bytes:
    """What names an answered passkey challenge: the challenge itself (a statement's hash, or
    a registration's random bytes)."""
    return b"challenge:" + signed


def probe_consent(probe_consent_id: str) -> bytes:
    """What names a used probe consent: its id, which its signed receipt binds."""
    return b"probe-consent:" + probe_consent_id.encode()


def link(link_id: str) -> bytes:
    """What names a one-time link used up (or voided by its sibling's use): its id, which the
    keyed hash of its secret binds."""
    return b"link:" + link_id.encode()


def mark_path(witness_dir: Path, right: bytes) -> Path:
    """Where ``witness_dir`` keeps the mark of ``right``: the one layout rule."""
    name = hashlib.sha256(right).hexdigest()
    return witness_dir / SPENT / name[:2] / f"{name}{SUFFIX}"


def used(witness_dir: Path, right: bytes, *, issued_at: datetime | None) -> bool:
    """Whether ``right`` was used by an act that committed, or, issued at ``issued_at`` (its
    signed time; None: it has none), before the folder's marks are whole (read-only: two
    stats, unless the folder was adopted).

    Raises:
        WitnessUnusable: :func:`issued_before_marks`'.
    """
    return (marked(witness_dir, right)
            or (issued_at is not None and issued_before_marks(witness_dir, issued_at)))


def marked(witness_dir: Path, right: bytes) -> bool:
    """Whether ``witness_dir`` holds the mark of ``right`` (read-only: one stat)."""
    return mark_path(witness_dir, right).exists()


def marks_begin(witness_dir: Path, at: datetime) -> None:
    """Record that ``witness_dir`` holds the marks of the rights issued from ``at`` on only:
    it is taken up at ``at`` in place of a lost witness, whose marks are gone. Durable, once
    per instant (a folder on an append-only mount takes new names, never a rewrite).

    Raises:
        OSError: the folder takes no write.
    """
    folder = witness_dir / MARKS_FROM
    if not folder.is_dir():
        folder.mkdir(mode=PUBLISHED_DIR_MODE, parents=True, exist_ok=True)
        fsync_directory(witness_dir)
    instant = at.astimezone(UTC)
    write_once(folder / instant.strftime(_STAMP), instant.isoformat() + "\n")


def issued_before_marks(witness_dir: Path, issued_at: datetime) -> bool:
    """Whether a right issued at ``issued_at`` may predate the newest adoption of
    ``witness_dir`` (:func:`marks_begin`), its issuer's clock running ahead of the adopting
    start's by up to :data:`consent.log_clock.TOLERANCE`: its use, if any, may have been marked
    in the lost folder only (read-only: one listing of a folder absent or of a few names).

    Raises:
        WitnessUnusable: the folder cannot be read.
    """
    folder = witness_dir / MARKS_FROM
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return False
    except OSError as error:
        raise WitnessUnusable(
            f"the witness folder's {folder} cannot be read ({error.strerror}): nothing was"
            " done; make it readable, then ask again",
            details={"committed": False, "path": str(witness_dir)}) from error
    stamps = [name for name in names if not name.startswith(".")]  # write_once's temporaries
    if not stamps:
        return False
    newest = max(stamps)
    try:
        begun = datetime.strptime(newest, _STAMP).replace(tzinfo=UTC)
    except ValueError as error:  # not written here: whole from when, no one can tell
        raise WitnessUnusable(
            f"the witness folder's {folder} holds {newest!r}, which names no instant:"
            " nothing was done; remove what the service did not write there, then ask again",
            details={"committed": False, "path": str(witness_dir)}) from error
    return issued_at < begun + log_clock.TOLERANCE


def claim_on_commit(session: Session, witness_dir: Path, right: bytes, *, what: str,
                    used_already: ConsentError | None, ends_processing: bool = False) -> None:
    """Mark ``right`` used as ``session``'s transaction commits, before the database's commit;
    never when it rolls back. ``what``: the right, as an error line names it.
    ``used_already``: the refusal where the mark exists already; None where that is fine (a
    right the act voids rather than uses).

    Raises (from the commit):
        ConsentError: ``used_already``, where the mark exists already (another act used the
            right meanwhile).
        WitnessUnusable: the folder took no write (``details.committed`` false), unless the act
            ends processing.
    """
    def claim(_session: Session) -> None:
        try:
            created = _write_mark(mark_path(witness_dir, right))
        except OSError as error:
            if ends_processing:
                logger.error("an act that ends processing used %s, but witness folder %s took"
                             " no mark of it (%s): done all the same", what, witness_dir,
                             error.strerror)
                return
            raise WitnessUnusable(
                f"the witness folder {witness_dir} took no mark of {what} ({error.strerror}):"
                " nothing was done; make the folder writable, then ask again",
                details={"committed": False, "path": str(witness_dir)}) from error
        if not created and used_already is not None:
            raise used_already

    event.listen(session, "before_commit", claim, once=True)


def _write_mark(path: Path) -> bool:
    """Create the mark at ``path`` durably, its folders first; False when it exists."""
    for folder in (path.parent.parent, path.parent):
        if not folder.is_dir():
            folder.mkdir(mode=PUBLISHED_DIR_MODE, exist_ok=True)
            fsync_directory(folder.parent)
    return write_once(path, "")
