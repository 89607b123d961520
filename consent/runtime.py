"""What every use case needs at hand, wired once by :meth:`consent.service.OptinFace.open`.

Public on purpose: the use-case modules (enrolment, matching, consents, erasure, rotation) take
the runtime rather than the service, and key rotation swaps its index and protector here.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from optinface.consent import log_clock, log_seals, log_tail
from optinface.consent.audit import AuditLog, Entry, append, last_details, link
from optinface.consent.auth_failures import FailureTally
from optinface.consent.clock import Clock
from optinface.consent.db import Database
from optinface.consent.key_rows import KeyRows
from optinface.consent.keys import KeyRing
from optinface.consent.settings import ConsentSettings
from optinface.consent.shared_checkpoints import SharedCheckpoints
from optinface.consent.tables import AuditEvent
from optinface.engine.pipeline import FacePipeline
from optinface.engine.protection import TemplateProtector
from optinface.engine.types import VectorIndex

if TYPE_CHECKING:  # consent.declaration's, .erasure_journal's and .authority's use cases take one
    from optinface.consent.declaration import RegisterReads
    from optinface.consent.journal_ends import JournalEnds
    from optinface.consent.live_replay import LiveReplay
    from optinface.consent.receipt_ends import ReceiptEnds
    from optinface.consent.witness_binding import Binding


@dataclass(slots=True)
class Runtime:
    """The live parts of one open service: configuration, ledger, keys, engine and index."""

    settings: ConsentSettings
    db: Database
    keys: KeyRing
    index: VectorIndex
    clock: Clock
    pipeline: FacePipeline
    protector: TemplateProtector
    log: AuditLog
    register_reads: RegisterReads
    """The declaration gate's reads of the register, kept until the register changes."""
    key_rows: KeyRows
    """Authentication's reads of the API keys, kept until a key is written."""
    journal_ends: JournalEnds
    """What the erasure journal ended, which a search asks for each face it finds."""
    receipt_ends: ReceiptEnds
    """The receipts' ends the last sweep read, kept so the next verifies only what changed."""
    witness_binding: Binding
    """The key store's record of its witness, moved on at each journal append."""
    live_replay: LiveReplay
    """The replay of the erasure journal owed to a restore found while the service runs,
    which every session of :attr:`db` waits for."""
    auth_failures: FailureTally = field(
        default_factory=lambda: FailureTally(window=timedelta(seconds=60))
    )
    errors_said: set[Hashable] = field(default_factory=set)
    """What :meth:`error_once` has logged in this process."""
    tail: log_tail.Tail = field(default_factory=log_tail.Tail)
    """The newest event this process read or appended (:mod:`consent.log_tail`), checked
    before each append."""
    sealed_rotations: dict[int, datetime] = field(default_factory=dict)
    """Epoch -> the time of the sealed rotation that made it, once found
    (:mod:`consent.epoch_start`): what an epoch's start rests on, never changed once chained."""
    checkpoints: SharedCheckpoints = field(default_factory=SharedCheckpoints)
    """Turns at signing the log's head for this process's spent rights: one signature for the
    acts waiting on it together (:mod:`consent.shared_checkpoints`)."""
    seals_checked: int = 0
    """The last event whose keyed seal this process checked (:func:`consent.log_seals.
    record_unsealed`), once committed."""

    def audit_if_changed(self, session: Session, entry: Entry) -> None:
        """Chain ``entry`` unless the latest event of its action has the same details: how a
        setting applied at start-up (the retention policy, the PIA's) is dated in the log,
        once per change, a return to an earlier value included."""
        if last_details(session, entry.action) != entry.details:
            self.audit(session, entry)

    def audit(self, session: Session, entry: Entry) -> AuditEvent:
        """Chain ``entry`` into the log inside ``session``'s transaction; every
        ``audit_checkpoint_every`` events, sign a checkpoint (witnessed once committed), after
        checking the keyed seals of the events it is the first to sign."""
        now = self.clock.now()
        event = self.chain(session, entry, now=now)
        if event.seq % self.settings.audit_checkpoint_every == 0:
            log_seals.record_unsealed(self, session)
            self.log.checkpoint(session, now=now)
        return event

    def error_once(self, logger: logging.Logger, said: Hashable, message: str,
                   *args: object) -> None:
        """Log ``message`` as an error once per process for ``said`` (a row found unsealed: an
        admin key's binding, an API key or token), however often it is presented again."""
        if said not in self.errors_said:
            self.errors_said.add(said)
            logger.error(message, *args)

    def chain(self, session: Session, entry: Entry, *, now: datetime | None = None) -> AuditEvent:
        """Chain ``entry`` at ``now`` (the clock's, if not given; never before the event it
        follows: :mod:`consent.log_clock`), sealed with the key store's HMAC key
        (:mod:`consent.log_seals`), and sign no checkpoint: :meth:`audit` does, and what it
        checks first chains here. The log's tail is checked first (:func:`consent.log_tail.
        vet`): a loss, or a clock set back, is chained before ``entry``."""
        now = now or self.clock.now()
        newest = log_tail.vet(self, session)  # the one read of the chain's newest event
        latest = None if newest is None else newest.at
        last = log_clock.flag(self, session, now, newest)
        event = append(session, entry, last=last, now=log_clock.dated(now, latest),
                       seal_key=self.keys.hmac_key)
        self.tail.remember(session, link(event))
        return event
