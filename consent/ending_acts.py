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

Kept apart from the gate: :mod:`consent.passkeys`, which spends every challenge, sits below the
transparency log the gate tries again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ENDING = frozenset({"withdraw", "erase"})
"""The signed acts that end processing whatever they say: a withdrawal (a consent's or one
purpose's) and an erasure; an opt-out of search is the third, a ``searchable`` act that says
false (:func:`ends_processing`)."""


def ends_processing(statement: Mapping[str, Any] | None) -> bool:
    """Whether the signed statement is of an act that ends processing (see the module)."""
    if not statement:
        return False
    act = statement.get("act")
    return act in ENDING or (act == "searchable" and statement.get("searchable") is False)
