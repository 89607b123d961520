"""Which act a single-use right spent deep inside a transaction belongs to, so that act signs
the spend into the witness folder before it answers (:mod:`consent.spent_rights`, which this
module serves and whose imports it must not need: :mod:`consent.passkeys`, below the
transparency log, spends every passkey challenge).

An act that may spend one opens a :func:`consent.spent_rights.witnessed` block; a spend made
in a transaction the act does not end itself (:func:`consent.passkeys.take_ceremony`, reached
from a sign-in, a step-up and every signed act) takes the innermost block's :class:`Spend`
(:func:`current`) and calls :func:`spent_on_commit`, which marks it once that transaction
commits, and never when it rolls back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session


class Spend:
    """Whether an act spent its single-use right: called once the spend committed; and whether
    every right it spent was for an act that ends processing (:mod:`consent.ending_acts`),
    which :mod:`consent.spent_rights` answers though the witness folder refuses its
    checkpoint. ``witness_dir``: the folder that witnesses it, where an answered challenge is
    marked (:mod:`consent.spent_marks`)."""

    def __init__(self, witness_dir: Path) -> None:
        self.witness_dir = witness_dir
        self.made = False
        self.all_ending = True

    def __call__(self, *, ends_processing: bool = False) -> None:
        self.made = True
        self.all_ending = self.all_ending and ends_processing


# The act under way on this thread (a request's worker thread; a copied context elsewhere).
_UNDER_WAY: ContextVar[Spend | None] = ContextVar("spend_under_way", default=None)


@contextmanager
def under_way(spend: Spend) -> Iterator[None]:
    """Make ``spend`` the one :func:`spent_on_commit` marks while the block runs (an inner
    block's own while it runs)."""
    token = _UNDER_WAY.set(spend)
    try:
        yield
    finally:
        _UNDER_WAY.reset(token)


def current() -> Spend:
    """The :class:`Spend` of the act under way (:func:`under_way`).

    Raises:
        RuntimeError: no act is under way: a programming error, raised before the transaction
            that spends commits, so nothing is spent unwitnessed (the act fails whole).
    """
    spend = _UNDER_WAY.get()
    if spend is None:
        raise RuntimeError("a single-use right was spent outside spent_rights.witnessed: its"
                           " act would answer before the spend is signed")
    return spend


def spent_on_commit(session: Session, spend: Spend, *, ends_processing: bool = False) -> None:
    """Mark ``spend`` (:func:`current`'s) once ``session``'s transaction commits: a transaction
    rolled back (a refusal after the right was taken) spent nothing, and signs nothing.
    ``ends_processing``: the right was for an act that ends processing."""
    event.listen(session, "after_commit",
                 lambda _committed: spend(ends_processing=ends_processing), once=True)
