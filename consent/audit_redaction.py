"""Redaction a person can check: an event's hash covers the details kept from them through a
commitment.

A search event's details describe the gallery and the researcher's query (``k``,
``gallery_size``) and other people (their ``scores``, ``review_ids``), which a person's access
export must not show (:mod:`consent.access`). An event's hash covered them as they were, so
the event shown without them failed its own hash and its inclusion proof: the searches a person
most needs to check were the ones they could not (red team 7, #4).

So an event appended with any of :data:`REDACTED_DETAILS` hashes them through a commitment,
``SHA-256(salt || canonical JSON of those details)``, with a fresh random salt kept in the row's
details (:data:`SALT`): the hashed bytes hold the other details and the commitment
(:func:`consent.audit.hashed_fields`). The row, and the whole log's export for auditors, keep
every detail and the salt, so the commitment is recomputed from them; a person's view drops the
redacted details and the salt and shows the commitment (:func:`consent.access.own_view`), and
its hash and Merkle leaf are the same. Without the salt the commitment cannot be opened by
guessing (``k`` and a gallery's size are small numbers).

The salt's presence is the hash form: an event without it (every event from before, and every
event that has none of those details) hashes its details as they are. Changing
:data:`REDACTED_DETAILS` would change the form of events already chained: another set is
another form, under another salt's name. (``probe_consent_id`` and ``dropped`` joined it before
any release wrote the committed form; :data:`BEFORE_COMMITMENTS` keeps how a person's view of
an older event is made.)
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from typing import Any

from optinface.consent.crypto import canonical_json

REDACTED_DETAILS = frozenset({"gallery_size", "scores", "k", "review_ids", "probe_consent_id",
                              "dropped"})
"""Details that describe other people or the gallery searched: never in a person's export (a
search's probe consent is another person's, the one photographed; ``dropped`` counts the
gallery's templates the search passed over)."""
BEFORE_COMMITMENTS = frozenset({"gallery_size", "scores", "k", "review_ids"})
"""What a person's view left out of an event chained before commitments (no salt), as it did
then: one that had none of them (a probe consent's own event, naming its own id) is shown
whole and still matches its hash; one that had some cannot be checked anyway
(:func:`shown_details`)."""
SALT = "redaction_salt"
"""The detail that holds the commitment's salt (hex); present: the event's hash form commits
to :data:`REDACTED_DETAILS`."""
SALT_BYTES = 16


def commit(details: Mapping[str, Any]) -> dict[str, Any]:
    """``details`` as an event appended now stores them: with a fresh salt where any of them
    is one to redact, else as they are (no commitment to make)."""
    if REDACTED_DETAILS.isdisjoint(details):
        return dict(details)
    return {**details, SALT: secrets.token_bytes(SALT_BYTES).hex()}


def committed(details: object) -> bool:
    """Whether an event with ``details`` (stored, or in the whole log's export) is of the
    committed form (details that are no mapping, an edit, are of none)."""
    return isinstance(details, Mapping) and SALT in details


def commitment(details: Mapping[str, Any]) -> str:
    """The commitment to the redacted part of a committed event's ``details``: SHA-256 over the
    salt's bytes and the canonical JSON of those details present. A salt that is not hex
    commits to nothing anyone can open: it is used as its text's bytes, so the event fails its
    hash rather than the verifier."""
    part = {name: value for name, value in details.items() if name in REDACTED_DETAILS}
    return hashlib.sha256(salt_bytes(details[SALT]) + canonical_json(part)).hexdigest()


def salt_bytes(salt: object) -> bytes:
    """A salt's bytes, read from its hex; one that is not hex (an edit) as its text's bytes,
    so the event fails its hash rather than the verifier (:mod:`consent.audit_seal_tree` too)."""
    try:
        return bytes.fromhex(salt) if isinstance(salt, str) else str(salt).encode()
    except ValueError:
        return str(salt).encode()


def shown_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """What a person's view shows of an event's ``details``: a committed event's public ones
    (:func:`public_details`); of one chained before commitments, all of them unless it holds
    any of :data:`BEFORE_COMMITMENTS`, and then none of :data:`REDACTED_DETAILS`."""
    if committed(details) or not BEFORE_COMMITMENTS.isdisjoint(details):
        return public_details(details)
    return dict(details)


def public_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """What a committed event's hash covers of its details as they are: all but the redacted
    ones and the salt."""
    return {name: value for name, value in details.items()
            if name not in REDACTED_DETAILS and name != SALT}
