"""The people in probes are not subjects: nothing of theirs outlives its job.

Their passkey goes as soon as it signed (the receipt still proves the signature offline); the
sweep deletes a passkey that never signed once its one challenge expired, the links and
challenges that named the image and the researcher once spent or expired, and each probe
consent five years after it expired. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from optinface.consent.audit import AuditAction
from optinface.consent.probe_consent import PROBE
from optinface.consent.receipts import subject_signature_problem, verify_receipt
from optinface.consent.retention_policy import RECEIPT_YEARS
from optinface.consent.schemas import AuditFilter, LinkSecret
from optinface.consent.soft_person import probe_consent
from optinface.consent.tables import Ceremony, OneTimeLink, PasskeyCredential, ProbeConsent
from tests.support.backends import both_backends
from tests.support.consent import FakeClock, World, new_device_answer, row_count

pytestmark = both_backends

PROBE_IMAGE = b"the bytes of a probe photo"


def _probe_rows(world: World) -> dict[str, int]:
    """How many rows of each kind the people in probes have left in the ledger."""
    service = world.service
    return {"passkeys": row_count(service, PasskeyCredential, PasskeyCredential.capacity == PROBE),
            "links": row_count(service, OneTimeLink, OneTimeLink.kind == PROBE),
            "challenges": row_count(service, Ceremony, Ceremony.kind == PROBE),
            "consents": row_count(service, ProbeConsent)}


def test_a_probe_persons_passkey_is_deleted_once_it_signed_and_the_receipt_still_proves_it(
    world: World,
) -> None:
    signed = probe_consent(world.service, world.probe_link(image=PROBE_IMAGE))
    assert _probe_rows(world)["passkeys"] == 0
    assert signed.receipt is not None
    assert verify_receipt(signed.receipt.receipt, signed.receipt.signature,
                          signed.receipt.public_key)
    assert subject_signature_problem(signed.receipt.receipt) is None


def test_the_sweep_forgets_what_people_in_probes_left_once_it_can_serve_nothing(
    world: World, clock: FakeClock
) -> None:
    world.probe_link(image=PROBE_IMAGE)  # a link the person never opens
    registered_only = world.probe_link(image=PROBE_IMAGE)
    options = world.service.probe_registration_options(LinkSecret(link=registered_only))
    # Registered, and the statement never signed.
    world.service.register_probe_passkey(new_device_answer(options))
    probe_consent(world.service, world.probe_link(image=PROBE_IMAGE))
    assert _probe_rows(world) == {"passkeys": 1, "links": 3, "challenges": 2, "consents": 1}

    world.service.sweep()  # the used links and the signed challenge: nothing else has expired
    assert _probe_rows(world) == {"passkeys": 1, "links": 1, "challenges": 1, "consents": 1}
    settings = world.service.settings
    clock.advance(minutes=settings.enrolment_link_minutes, seconds=settings.challenge_seconds)
    world.service.sweep()
    assert _probe_rows(world) == {"passkeys": 0, "links": 0, "challenges": 0, "consents": 1}

    clock.advance(days=365 * RECEIPT_YEARS)  # a consent receipt: five years after it ended
    world.service.sweep()
    assert _probe_rows(world)["consents"] == 1
    clock.advance(days=3)
    world.service.sweep()
    assert _probe_rows(world)["consents"] == 0
    sweeps = world.service.audit_events(actor=world.admin,
                                        filters=AuditFilter(action=AuditAction.SWEEP)).events
    # Links and challenges go as every spent one does: the two used links, the two used
    # registrations and the signed statement's challenge, then the expired link and challenge.
    assert [(event.details["one_time_rows_deleted"], event.details["probe_rows_deleted"])
            for event in sweeps] == [(5, 0), (2, 1), (0, 0), (0, 1)]
