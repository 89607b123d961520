"""The signed receipt of a consent that ended while another consent kept its subject, by
itself or withdrawn (P-39.1 s. 23; GDPR arts. 5(2), 7(3), 17(1)(a)-(b)).

Its templates are destroyed by the sweep or the start
(:func:`consent.erasure.destroy_ended_templates`) or by the withdrawal itself, and the
subject's key renewed, so copies made before open them no more once the epoch turns
(:mod:`consent.key_renewal`). An erasure leaves a receipt signed by the controller (the
tombstone's); a withdrawal keeps the person's own signature with the consent, which says what
they asked, not what was done. This receipt says what was done, signed by the receipt key in
force and kept with the consent (``end_receipt``, ``end_signature``: migration 0043), served
with it (the API, the access export, the portal's receipts) until the subject is erased: it
names the pseudonym, so the erasure removes it with the consent's other receipts (a withdrawal
of the last consent erases, and its erasure receipt says it).

It states of the destruction what an erasure receipt states: why and when the consent ended,
when its templates were destroyed and how many, how many saved index files' keys went with
them (every copy of the index saved before opens no more), what outlives it in the live
ledger, and from when copies made before cannot be decrypted (``copiesUndecryptableAt``: the
end of the epoch that wrapped the subject's key until then, kept as that epoch's promise, as an
erasure's is: :func:`consent.epochs.promise_boundary`). A consent's templates are destroyed
once; a receipt already kept is never replaced. A consent that held no template has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from optinface.consent.crypto import canonical_json
from optinface.consent.keys import KeyRing
from optinface.consent.ledger import new_id
from optinface.consent.policies import ended_at, ended_reason
from optinface.consent.receipts import CONSENT_RECEIPT_VERSION, pii_controllers
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import Consent

RECEIPT_TYPE = "consent ended"
KEPT_SUBJECT = "the subject's record and templates under the consents still in force"
"""What the destruction leaves, as the receipt's ``kept`` says (an English source string: the
portal states it in the reader's language)."""


@dataclass(frozen=True, slots=True)
class Destruction:
    """What one destruction of ended consents' templates did, as each of their receipts
    states it: when, the index files' keys it destroyed, what outlives it in the live ledger,
    and from when copies made before open no more."""

    at: datetime
    index_file_keys: int
    after_destroyed: str
    copies_undecryptable_at: datetime


def sign(consent: Consent, *, pseudonym: str, templates: int, key_epoch: int,
         destruction: Destruction, ring: KeyRing, settings: ConsentSettings) -> None:
    """Keep with ``consent`` its signed end receipt, unless it holds one already: its
    ``templates`` destroyed in ``destruction``, the subject's key having been wrapped under
    epoch ``key_epoch`` until then. ``ring``: the receipt key in force, read once for the
    destruction (:func:`consent.receipt_key_in_force.in_force`)."""
    if consent.end_receipt is not None:
        return
    consent.end_receipt = {
        "version": CONSENT_RECEIPT_VERSION,
        "type": RECEIPT_TYPE,
        "receiptID": new_id("end"),
        "piiControllers": pii_controllers(settings.controller_name, settings.controller_contact),
        "piiPrincipalId": pseudonym,
        "endedConsentID": consent.id,
        "reason": str(ended_reason(consent)),
        "endedAt": ended_at(consent).isoformat(),
        "destroyedAt": destruction.at.isoformat(),
        "afterDestroyedAt": destruction.after_destroyed,
        # Copies made before (backups, snapshots, old row versions) hold the templates under
        # the subject's key of the time, wrapped under this epoch: they become undecryptable
        # when the next rotation destroys it (the subject's key was renewed).
        "keyEpoch": key_epoch,
        "copiesUndecryptableAt": destruction.copies_undecryptable_at.isoformat(),
        "destroyed": {"templates": templates, "indexFileKeys": destruction.index_file_keys},
        "kept": [KEPT_SUBJECT],
        "publicKey": ring.public_key,
    }
    consent.end_signature = ring.sign(canonical_json(consent.end_receipt))
