"""An event's seals committed as one root, so a person's export shows their own seal alone.

An event's hash covered the list of its subjects' seal hashes (:mod:`consent.audit_seals`), so
the person's access export had to show every seal hash of a search that named them: how many
other people were candidates, the very figure the redacted ``k`` hides (red team 7, #4); and of
an operator's read naming several people, how many others the reader named.

So an event appended with details a person's export leaves out (a search's: those
:mod:`consent.audit_redaction` commits to), or of a kind whose subjects may be several
(:data:`SEVERAL`), also covers its seal hashes through a root (:func:`consent.audit.hashed_fields`:
``seal_root`` in place of ``subject_seals``), and the person's view shows their own seal, that
root and the path from their seal to it (:func:`consent.access.own_view`), which
``optinface audit verify-access`` folds (:func:`problem`). The construction, the simplest found
that proves membership and hides the count:

- a Merkle tree of fixed depth :data:`DEPTH` whose leaves are
  ``SHA-256(0x00 || canonical JSON of the seal hash)``, placed in the row's order; the root does
  not fix that order (pairs are sorted), so it commits to the set of seals, not their sequence:
  nothing reads an order from an event's seals;
- an inner node is ``SHA-256(0x01 || min(a, b) || max(a, b))``: the pair is sorted, so a path is
  its siblings alone, with no left-or-right bits, and says nothing of the seal's position (a
  position would bound how many came before it);
- a place no leaf fills, at any level, holds ``SHA-256(0x02 || salt || level || index)``, the
  salt fresh for each event and kept in the row's details (:data:`SALT`), never in a person's
  view: without it a padding node is a hash like any other, so the siblings do not tell which
  of them stand for people;
- the three prefixes keep leaves, nodes and padding apart, so a path that folds to the root
  from a seal not in the list, or of another length, is a SHA-256 collision.

So every path is :data:`DEPTH` hashes, one subject or sixty-four: no event of this form names
more than :data:`PLACES` (:func:`commit` refuses it; a search names at most
``ConsentSettings.max_candidates``, at most 50, an operator's read the few people it looked up,
and ``subject_keys_lost`` is chained one person an event). The row and the whole log's export
keep every seal and the salt, and the root is recomputed from them (a row edited to hold more
seals gets a deeper tree, and fails its hash); an erasure removes a pseudonym and its seal's
salt as before, keeping the seal hash (:func:`consent.audit_seals.forget`), so the root, the
chain and every other candidate's path are unchanged.

The salt's presence is the hash form, as the redaction salt's is (:mod:`consent.audit_redaction`):
events appended before it hash the seal list and keep doing so, and a person's view of one still
shows the other seals' hashes (a search chained before seal roots, a read naming several people
chained before :data:`SEVERAL` took this form). Events of other kinds name one subject at most
(a consent, an enrolment, a refusal): their hash covers the seal list, and the view shows their
own seal's hash, the only one.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from optinface.consent import audit_redaction
from optinface.consent.crypto import canonical_json

DEPTH = 6
"""The tree's depth: every path is this long, whoever else the event named."""
PLACES = 2 ** DEPTH
"""The most subjects an event of this form names (:func:`commit`): 64, above the 50 candidates
a search may name at most (``ConsentSettings.max_candidates``, ``api.routes.matching.
MAX_CANDIDATES``)."""
SEVERAL = frozenset({"audit_read", "authority_mismatch"})
"""The kinds of event (``AuditAction`` values) that hide nothing else from a person but may
name several people: an operator's read (the subject filtered on and those looked up), a row
found wider than its receipt. They take this form whatever their count (one subject too), so
the form does not say whether others were named. A search takes it through its redacted
details."""
SALT = "seal_salt"
"""The detail that holds the padding's salt (hex); present: the event's hash covers its seals
through their root."""
SALT_BYTES = 16
_LEAF, _NODE, _PAD = b"\x00", b"\x01", b"\x02"
_NOT_HELD = "shows a seal its seal root does not hold (edited)"


def commit(details: Mapping[str, Any], *, action: str, subjects: int) -> dict[str, Any]:
    """``details`` of an ``action`` naming ``subjects`` people as an event appended now stores
    them: where its redacted details are committed (:func:`consent.audit_redaction.commit`: a
    search's, whose other candidates a person's export must not count) or its kind may name
    several people (:data:`SEVERAL`), with a fresh salt, so its hash covers its seals through
    their root; any other event keeps the form it had, its seal list hashed.

    Raises:
        ValueError: such an event names more than :data:`PLACES` people, whose path would be
            longer and say so; no caller of the service does (see the module).
    """
    if not (audit_redaction.committed(details) or action in SEVERAL):
        return dict(details)
    if subjects > PLACES:
        raise ValueError(f"an event with a seal root names at most {PLACES} subjects, "
                         f"not {subjects}")
    return {**details, SALT: secrets.token_bytes(SALT_BYTES).hex()}


def committed(details: object) -> bool:
    """Whether an event with ``details`` (stored, or in the whole log's export) hashes its seals
    through their root (details that are no mapping, an edit, do not)."""
    return isinstance(details, Mapping) and SALT in details


def public_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """``details`` without the salt: what the hash covers of them, and a person may see."""
    return {name: value for name, value in details.items() if name != SALT}


def root(hashes: Sequence[object], salt: object) -> str:
    """The root (hex) over an event's seal hashes (as a set: see the module), padded with
    ``salt``."""
    return _levels(hashes, salt)[-1][0].hex()


def opening(hashes: Sequence[object], salt: object, index: int) -> tuple[str, list[str]]:
    """The root and the path (siblings, hex, leaf first) of the seal at ``index``."""
    levels = _levels(hashes, salt)
    path = []
    for level in levels[:-1]:
        path.append(level[index ^ 1].hex())
        index //= 2
    return levels[-1][0].hex(), path


def proves(seal_hash: object, path: Sequence[object], seal_root: object) -> bool:
    """Whether ``path`` folds ``seal_hash`` up to ``seal_root``; a sibling that is not 32 bytes
    of hex folds to nothing."""
    node = _leaf(seal_hash)
    for sibling in path:
        try:
            other = bytes.fromhex(sibling) if isinstance(sibling, str) else b""
        except ValueError:
            return False
        if len(other) != hashlib.sha256().digest_size:
            return False
        node = _node(node, other)
    return node.hex() == seal_root


def problem(event: Any) -> str | None:
    """Why a person's view of an event does not prove its seal in the root it shows, or None
    (an event that shows no root: a row, the whole log's export, or an older form). The view
    shows one seal, its own, and the path that proves it."""
    shown = getattr(event, "seal_root", None)
    if shown is None:
        return None
    seals = event.subject_seals or []
    if len(seals) != 1 or not proves(seals[0]["hash"], event.seal_proof or [], shown):
        return _NOT_HELD
    return None


def _levels(hashes: Sequence[object], salt: object) -> list[list[bytes]]:
    """Each level of the tree, leaves first, each padded to an even length (the root's, alone,
    last): what a root and every path are read from."""
    key = audit_redaction.salt_bytes(salt)
    level = [_leaf(h) for h in hashes]
    levels = []
    for height in range(max(DEPTH, (len(hashes) - 1).bit_length())):
        while len(level) < 2 or len(level) % 2:
            level.append(hashlib.sha256(_PAD + key + height.to_bytes(1, "big")
                                        + len(level).to_bytes(8, "big")).digest())
        levels.append(level)
        level = [_node(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return [*levels, level]


def _leaf(seal_hash: object) -> bytes:
    return hashlib.sha256(_LEAF + canonical_json(seal_hash)).digest()


def _node(one: bytes, other: bytes) -> bytes:
    return hashlib.sha256(_NODE + min(one, other) + max(one, other)).digest()
