"""A passkey challenge, once answered, is marked in the witness folder before its act commits:
whoever writes the database alone cannot make it answerable again.

A challenge's single use was its row's use mark, the database's. Within the challenge's
lifetime (``challenge_seconds``: after it, :func:`consent.passkeys.require_signed_recently`
refuses the answer whatever a row says), whoever could write the ledger cleared that mark and
posted again an answer they had seen pass or read in a receipt (it embeds the person's
assertion): a consent the person withdrew a minute later came back, a sign-in opened a second
session in their name. The mark here is a file named by the challenge's SHA-256 in
``spent/<its first two hex digits>/``, created once (:func:`consent.witness.write_once`) in the
folder kept apart from the data, on an append-only mount in production: a challenge whose mark
exists is refused, a row's use mark cleared or not. Asked when the challenge is taken
(:func:`answered`), so that a replay does nothing at all and is refused as what it is (its
signature's check, next, would call it a passkey error where the sign count was not reset);
claimed as the act commits (:func:`claim_on_commit`), where the file's creation, which only
one caller can win, is the record.

Why a file of its own and not a line of the erasure journal, which holds what must be done
again after a restore: a mark serves only while its challenge lives, and every sign-in writes
one; in the journal, every start would read them all, forever. A mark older than
``challenge_seconds`` protects nothing any more, so whoever keeps the folder may delete the
old ones (by modification time); the service never deletes one. A mark names a random hash,
never a person, a pseudonym or a key.

It is written when the act's transaction commits, before the database's commit
(:func:`claim_on_commit`): an act refused in its transaction (the challenge taken, then a
refusal) marks nothing, and its answer may come again while the challenge lives, as before;
a commit that fails once the mark is written leaves the challenge spent with nothing done (the
person asks for a new one). A folder that takes no write refuses the act (``witness_unusable``,
nothing committed), except one that ends processing, which is done though unmarked, with an
error line: the witness gate lets only those through a stalled folder
(:mod:`consent.witness_gate`), and one answered twice ends the same processing again.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session

from optinface.consent.errors import ChallengeInvalid, WitnessUnusable
from optinface.consent.witness import write_once
from optinface.engine.files import fsync_directory

logger = logging.getLogger(__name__)

SPENT = "spent"
"""The witness folder's subfolder of marks."""
SUFFIX = ".spent"


def mark_path(witness_dir: Path, challenge: bytes) -> Path:
    """Where ``witness_dir`` keeps the mark of ``challenge``: the one layout rule."""
    name = hashlib.sha256(challenge).hexdigest()
    return witness_dir / SPENT / name[:2] / f"{name}{SUFFIX}"


def answered(witness_dir: Path, challenge: bytes) -> bool:
    """Whether ``challenge`` was answered by an act that committed (read-only: one stat)."""
    return mark_path(witness_dir, challenge).exists()


def claim_on_commit(session: Session, witness_dir: Path, challenge: bytes, *,
                    ceremony_id: str, ends_processing: bool) -> None:
    """Mark ``challenge`` answered as ``session``'s transaction commits, before the database's
    commit; never when it rolls back.

    Raises (from the commit):
        ChallengeInvalid: the mark exists already (another act answered it meanwhile).
        WitnessUnusable: the folder took no write (``details.committed`` false), unless the act
            ends processing.
    """
    def claim(_session: Session) -> None:
        path = mark_path(witness_dir, challenge)
        try:
            created = _write_mark(path)
        except OSError as error:
            if ends_processing:
                logger.error("an act that ends processing answered challenge %s, but witness"
                             " folder %s took no mark of it (%s): done all the same",
                             ceremony_id, witness_dir, error.strerror)
                return
            raise WitnessUnusable(
                f"the witness folder {witness_dir} took no mark of challenge {ceremony_id}"
                f" ({error.strerror}): nothing was done; make the folder writable, then ask"
                " again", details={"committed": False, "path": str(witness_dir)}) from error
        if not created:
            raise ChallengeInvalid(f"challenge {ceremony_id} was answered already",
                                   details={"ceremony_id": ceremony_id})

    event.listen(session, "before_commit", claim, once=True)


def _write_mark(path: Path) -> bool:
    """Create the mark at ``path`` durably, its folders first; False when it exists."""
    for folder in (path.parent.parent, path.parent):
        if not folder.is_dir():
            folder.mkdir(exist_ok=True)
            fsync_directory(folder.parent)
    return write_once(path, "")
