"""Which of the person's signed acts end processing: the one rule the witness gate lets pass.

While the witness folder refuses checkpoints (:attr:`consent.witness.Witness.stalled`), the
service refuses every new act (:mod:`consent.witness_gate`), except those that end processing:
a person's withdrawal (of a consent or of one of its purposes), their erasure and their opt-out
of search, as their rights never wait on an order of the regulator either
(:func:`consent.declaration.require_not_suspended`). They remove or narrow, and each is
journaled in the witness folder before it commits (``erasures.jsonl``,
:mod:`consent.erasure_journal`), so the ledger's copy from before them, or the log with their
events deleted, does not undo them: the next start, or a live replay, makes them again. A
signed act names itself in the statement its person signs (:func:`consent.subject_acts.
statement_for`), so one rule, over that statement, serves the challenge asked for it, the act
posted with its signature, and its spent challenge (:mod:`consent.spent_rights`).

A person who is not signed in reaches those acts all the same: a sign-in asked while the
witness is stalled signs a statement that says so (:data:`ENDS_PROCESSING_ONLY`, set by
:func:`consent.enrolment_links.sign_in_options`), and the token it issues is limited, sealed, to
ending processing for its whole life (:data:`ENDING_SCOPE`, ``roles.ENDING_ONLY``), the stall
over or not. Such a sign-in counts as an act that ends processing: it passes the gate and is
answered though the folder does not take its checkpoint. What that leaves open is only this:
whoever holds the database can load a copy that holds its challenge unused and post the same
answer again, which opens one more session that can only end processing, never one that
consents, enrols, copies or discloses; and the statement's hash is the challenge signed, so no
row edited in the database lifts the limit (:func:`consent.passkeys.issued`).

Kept apart from the gate: :mod:`consent.passkeys`, which spends every challenge, sits below the
transparency log the gate tries again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from optinface.consent.errors import EndsProcessingOnly
from optinface.consent.roles import Actor

ENDING = frozenset({"withdraw", "erase"})
"""The signed acts that end processing whatever they say: a withdrawal (a consent's or one
purpose's) and an erasure; an opt-out of search is the third, a ``searchable`` act that says
false, and a sign-in that asks for a token limited to them the fourth (:func:`ends_processing`)."""

SIGN_IN = "sign_in"
"""The act of a sign-in's statement (and the kind of its challenge)."""

ENDS_PROCESSING_ONLY = "endsProcessingOnly"
"""The field of a sign-in's statement, true where the sign-in was asked while the witness was
stalled: the token it issues may only end processing."""

ENDING_SCOPE = "ends_processing"
"""A subject token's ``scope`` where it may only end processing (sealed with the token)."""


def scope_of(statement: Mapping[str, Any] | None) -> str | None:
    """The ``scope`` of the token a sign-in of ``statement`` issues: :data:`ENDING_SCOPE`
    where it was asked while the witness was stalled, else None (not limited)."""
    return ENDING_SCOPE if ends_processing(statement) else None


def limited(scope: str | None) -> bool:
    """Whether a subject token of ``scope`` may only end processing."""
    return scope == ENDING_SCOPE


def ends_processing(statement: Mapping[str, Any] | None) -> bool:
    """Whether the signed statement is of an act that ends processing (see the module)."""
    if not statement:
        return False
    act = statement.get("act")
    return (act in ENDING or (act == "searchable" and statement.get("searchable") is False)
            or (act == SIGN_IN and statement.get(ENDS_PROCESSING_ONLY) is True))


def require_ending_if_limited(actor: Actor, statement: Mapping[str, Any] | None) -> None:
    """Refuse ``actor``, a token limited to ending processing, an act whose ``statement`` does
    not end processing: what its permissions (``roles.ENDING_ONLY``) cannot tell apart, an
    opt-in from an opt-out, a consent's challenge from a withdrawal's.

    Raises:
        EndsProcessingOnly: the act does not end processing.
    """
    if actor.ends_processing_only and not ends_processing(statement):
        raise EndsProcessingOnly(EndsProcessingOnly.WHY,
                                 details={"act": str((statement or {}).get("act"))})
