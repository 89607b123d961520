"""What every operation needs at hand: settings, database, keys, index and clock."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from optinface.consent.audit import Entry, append
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

    def audit(self, session: Session, entry: Entry) -> AuditEvent:
        """Chain ``entry`` into the log inside ``session``'s transaction."""
        return append(
            session,
            entry,
            now=self.clock.now(),
            keys=self.keys,
            checkpoint_every=self.settings.audit_checkpoint_every,
        )
