"""A single-use right, once spent, is signed into the witness folder before its act answers.

A probe consent's use by an identification or a verification, a one-time link's use (an
enrolment, a probe, a verify's or an admin passkey's link), an approved capture's enrolment and
every answered passkey challenge (a sign-in's, an admin step-up's, and every signed act's:
those :func:`consent.subject_acts.complete` checks, a capture's approval, a consent, an
erasure, an opt-out, a withdrawal, a disclosure, a copy of the templates and the
``subject_token`` act of :func:`consent.enrolment_links.issue_token` included) are spent by
marking their row used (a challenge and a probe consent are marked in the witness folder as
well, against a row's mark cleared in a live ledger: :mod:`consent.spent_marks`). Those row
marks are not journaled: a copy of the ledger loaded later holds them unused again, and what
voids them there is a replay of the journal (:func:`consent.backup.void_single_use`, the
challenges among them), which runs
once something finds the copy: a start, or a worker's periodic check, on the log shorter than
or other than a checkpoint in the shared witness folder (:mod:`consent.live_replay`). Signed
only at the next periodic check or close, the spend's events left no sign where the worker
that spent it died unclean before either, and the right could be used again without end (red
team 5, F2); a challenge, within its lifetime, by the very assertion the person's device sent
(for ``subject_token``, a second bearer token that outlives the copy). Signing a checkpoint of
the log, with the spend's event chained and committed, before the act answers makes every
copy loaded afterwards older than a witnessed checkpoint.

The checkpoint is the one the periodic check signs (:func:`consent.transparency.witness`,
whose checks come first), on this process's thread: its cost is the act's
(``benchmarks/bench_audit.py``, identify with and without it). Acts of several clients that
queue for it share one: an act waiting while another signed, whose signature began after the
act committed, answers on that checkpoint (:mod:`consent.shared_checkpoints`). It runs once
the act's transaction committed and its files were saved (the index, the WAL checkpoint), outside
:func:`consent.refusals.audited`: what it finds never turns a committed act into a chained
refusal. Where its checks find the ledger restored behind the service, the act has committed
all the same and is not served (:class:`~consent.errors.CommittedNotServed`, not
``ledger_restored``'s "not committed; retry"). A checkpoint the witness folder refuses to
hold (full, read-only, a file where a folder should be) fails the answer closed: the act has
committed and stays so, but is refused as ``witness_unusable`` (``details.committed``) with an
error line, since its spend is signed nowhere a restored copy could be set against; but for an
act that ends processing (:mod:`consent.ending_acts`: journaled in the folder before it
commits, it is answered with an error line, :func:`witness_spent`). The periodic check and the
close only log it (:meth:`consent.witness.Witness.record`), the next checkpoint covering it,
and from then on no new act is done until the folder takes one (:mod:`consent.witness_gate`).

Two acts that spend nothing answer only once witnessed too (:func:`witness_committed`): an API
key's creation, whose event deleted with the events after the last witnessed checkpoint would
leave a key granting power that no log shows (black box 25, on a folder that took no write), and
a checkpoint asked over the API, whose answer is what its asker keeps as witnessed.

Each act that may spend one runs in a :func:`witnessed` block (the service's methods), and a
challenge is spent in one place, :func:`consent.passkeys.take_ceremony`, which marks the
block's :class:`~consent.spends.Spend` once its transaction commits
(:func:`consent.spends.spent_on_commit`; taken outside any block, the transaction fails
before it commits): no act that answers a challenge has a call of its own to forget. A copy
loaded behind running workers that no check has found yet refuses an assertion answered once
already by its mark in the witness folder (:mod:`consent.spent_marks`); one first answered on
the copy commits there, but its own signature's check finds the copy first, so it is answered
``committed_not_served``, never with what it made (a sign-in's or a ``subject_token``'s token
is not shown).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from optinface.consent import transparency
from optinface.consent.errors import CommittedNotServed, LedgerRestored, WitnessUnusable
from optinface.consent.runtime import Runtime
from optinface.consent.spends import Spend, under_way

logger = logging.getLogger(__name__)


def witness_spent(runtime: Runtime, *, ends_processing: bool = False) -> None:
    """Sign the log's head into the witness folder once an act that spent a single-use right
    committed, before it answers: the one call each such act makes, through :func:`witnessed`.

    ``ends_processing``: every right it spent was for an act that ends processing (a
    withdrawal, an erasure, an opt-out: :mod:`consent.ending_acts`). Such an act is answered
    though the folder refuses the checkpoint, with an error line: it was journaled in the
    folder before it committed, so a copy that holds its challenge unused is made to end the
    same processing again by its start or live replay, and the same assertion replayed there
    only ends it once more; a sign-in limited to those acts is the one such act not
    journaled: replayed there, it opens one more session that can only end processing. What
    they do not wait on is the operator's disk (:mod:`consent.witness_gate`).

    Raises:
        CommittedNotServed: the check before the signature found a copy restored behind the
            service (:mod:`consent.live_replay`, which replays it): the act is committed, and
            not answered.
        WitnessUnusable: the folder did not take the checkpoint: the act is committed, and
            not answered (unless it ends processing).
    """
    act = "this act committed and spent its single-use right"
    then = "read what the act left before acting again (the right is spent)"
    if (size := _signed_head(runtime, act=act, then=then)) is None:
        return
    if not ends_processing:
        require_witnessed(runtime, size, act=act, then=then)
    elif runtime.log.witness.latest_size() < size:
        logger.error("an act that ends processing committed (log of %d events) but witness"
                     " folder %s did not take its checkpoint: answered, since it is journaled"
                     " there", size, runtime.log.witness.directory)


def witness_committed(runtime: Runtime, *, act: str, then: str) -> None:
    """Sign the log's head into the witness folder once ``act`` (what committed, said as the
    answer's first words) committed, before it answers; ``then``: what to do next, said last.

    Raises:
        CommittedNotServed: a copy restored behind the service found first.
        WitnessUnusable: the folder did not take the checkpoint (:func:`require_witnessed`).
    """
    if (size := _signed_head(runtime, act=act, then=then)) is not None:
        require_witnessed(runtime, size, act=act, then=then)


def _signed_head(runtime: Runtime, *, act: str, then: str) -> int | None:
    """:func:`consent.transparency.witness`, in this process's turn: the size of the log it
    was to cover; None where a checkpoint begun after the act committed is in the folder
    already (:mod:`consent.shared_checkpoints`: one signature for the acts that queued for it).

    Raises:
        CommittedNotServed: a copy restored behind the service found first.
    """
    try:
        return runtime.checkpoints.sign(lambda: transparency.witness(runtime),
                                        held=runtime.log.witness.latest_size)
    except LedgerRestored as found:
        raise CommittedNotServed(
            f"{act}, but the ledger was then found restored behind the service: it is not"
            f" answered while the erasure journal is replayed; {then}",
            details={"committed": True}) from found


def require_witnessed(runtime: Runtime, size: int, *, act: str, then: str) -> None:
    """Refuse to answer ``act``, committed, unless the witness folder holds a checkpoint of
    ``size`` events or more: an error line, then :class:`WitnessUnusable` with
    ``details.committed``."""
    folder = runtime.log.witness.directory
    if runtime.log.witness.latest_size() < size:
        logger.error("%s (log of %d events) but witness folder %s did not take its checkpoint:"
                     " the act is committed, its answer refused", act, size, folder)
        raise WitnessUnusable(
            f"{act}, but the witness folder {folder} did not take its checkpoint (see the"
            f" server's log): it is not answered; make the folder writable, then {then}",
            details={"committed": True, "path": str(folder)})


@contextmanager
def witnessed(runtime: Runtime) -> Iterator[Spend]:
    """Sign the log's head into the witness folder as the block ends, once its act called the
    :class:`Spend` it is given, or a passkey challenge taken in the block committed
    (:func:`consent.spends.spent_on_commit`), a refusal after the spend included (the spend
    stays, and the refusal's event is chained by then), before the act's answer or refusal
    leaves.

    Raises:
        CommittedNotServed: :func:`witness_spent`'s, in place of the act's answer or refusal.
    """
    spend = Spend(runtime.log.witness.directory)
    try:
        with under_way(spend):
            yield spend
    finally:
        if spend.made:
            witness_spent(runtime, ends_processing=spend.all_ending)
