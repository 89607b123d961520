"""What every operation needs at hand: settings, database, keys, index and clock."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from optinface.consent.audit import AuditLog, Entry, append
from optinface.consent.clock import Clock
from optinface.consent.db import Database
from optinface.consent.keys import KeyRing
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import AuditEvent
from optinface.engine.types import VectorIndex


@dataclass(slots=True)
class Runtime:
    settings: ConsentSettings
    db: Database
    keys: KeyRing
    index: VectorIndex
    clock: Clock
    log: AuditLog

    def audit(self, session: Session, entry: Entry) -> AuditEvent:
        """Chain ``entry`` into the log inside ``session``'s transaction; every
        ``audit_checkpoint_every`` events, sign a checkpoint (witnessed once committed)."""
        now = self.clock.now()
        event = append(session, entry, now=now)
        if event.seq % self.settings.audit_checkpoint_every == 0:
            self.log.checkpoint(session, now=now)
        return event
