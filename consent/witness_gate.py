"""The gate every new act passes while the service runs: none while the witness is stalled.

The audit log is tamper-evident because its checkpoints are copied into a witness folder the
operator does not control (:mod:`consent.witness`). Where that folder stops taking them in
service (full, made read-only), acts committed meanwhile would sit past the last witnessed
checkpoint, where whoever holds the database can delete them unseen: stop the server, delete
the events back to that checkpoint, mend the folder, start again. So while the witness is
stalled (:attr:`consent.witness.Witness.stalled`) no new act is done: :func:`require_witnessing`
refuses it before it does anything, and the API asks it for every request before anything else
(``api.deps.get_service``), but those its routes declare to pass (``api.deps.
passes_witness_gate``): the probes that commit nothing (``/healthz``, ``/.well-known``), the
routes of the person's acts that end processing (:mod:`consent.ending_acts`), which ask it
themselves for what else they carry (a challenge, an opt-in), and the sign-in, whose token is
then limited to those acts (:func:`consent.enrolment_links.sign_in_options`).

The refusal is recorded outside the log: an error line in the operator's log (which act, never
a secret; the access log names the route), and the answer, ``witness_unusable`` with
``details.committed`` false. It is never chained: it is raised before the act and outside its
audit (:func:`consent.refusals.audited`), since an event chained now would itself wait past
the last witnessed checkpoint. The commands are not gated:
each refuses a folder that takes no write when it starts (:meth:`consent.witness.Witness.pin`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from optinface.consent import transparency
from optinface.consent.ending_acts import ends_processing
from optinface.consent.errors import WitnessStalled
from optinface.consent.runtime import Runtime

logger = logging.getLogger(__name__)

RETRY_SECONDS = 1.0
"""How often, at most, the gate tries a stalled folder again. Each try signs nothing new (the
refused note is handed over again, :meth:`consent.audit.AuditLog.witness_head`) but takes the
ledger's write lock for its checks and fsyncs a file and its folder: tried by every refused
request, a busy server would queue its requests behind that lock and a failing disk, while a
folder mended is taken up within a second of the next request (or the periodic round's next
turn, ``audit_witness_interval_seconds``)."""


def require_witnessing(runtime: Runtime, *, act: str = "this act") -> None:
    """Refuse ``act`` (named in the error line) before it does anything while the witness is
    stalled, after trying the folder once more if :data:`RETRY_SECONDS` have passed since it was
    last tried: a folder mended meanwhile takes every event's checkpoint, and the act goes on.

    Raises:
        WitnessStalled: the folder still takes no checkpoint (``details.committed`` false).
        LedgerRestored: the try found the ledger restored behind the service
            (:func:`consent.transparency.witness`): nothing done either.
    """
    witness = runtime.log.witness
    if witness.stalled is None:
        return
    if witness.try_again_due(every=RETRY_SECONDS):
        transparency.witness(runtime)
    stall = witness.stalled
    if stall is None:
        return
    since = stall.since.isoformat(timespec="seconds")
    logger.error("%s refused, nothing done: witness folder %s has taken no audit checkpoint"
                 " since %s (newest refused: %d events)", act, witness.directory, since,
                 stall.size)
    raise WitnessStalled(
        f"nothing was done: the witness folder {witness.directory} has refused the audit log's"
        f" checkpoints since {since}, and no act is done that it cannot witness; the operator"
        " must make the folder writable (space, permissions, the mount), then try again",
        details={"committed": False, "path": str(witness.directory), "since": since})


def require_witnessing_unless_ending(runtime: Runtime,
                                     statement: Callable[[], Mapping[str, Any] | None], *,
                                     act: str) -> None:
    """:func:`require_witnessing`, unless the act is one that ends processing
    (:func:`consent.ending_acts.ends_processing` of its signed ``statement``, read only while
    the witness is stalled): for a route that passes the API's gate because it carries such
    acts, and carries others too (a challenge, an opt-in)."""
    if runtime.log.witness.stalled is not None and not ends_processing(statement()):
        require_witnessing(runtime, act=act)
