"""Every way into a subject asks the erasure journal, whatever rows the ledger holds (red team
5, F2).

The red team loaded an older ``pg_dump`` behind two running workers: the erased person's old
token read their record and exported their decrypted template, and a new enrolment link and
passkey made the operator them, until the next start; only searches asked the journal. Every
lookup of a subject by pseudonym (``ledger.get_subject``), a token's authentication and a
passkey registered on a link now ask it too (consent.journal_ends): shown here with the erased
rows put back by SQL, which no start replays.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from optinface.consent.audit import AuditAction
from optinface.consent.schemas import (
    ConsentCapacity,
    ErasureReason,
    PasskeyResponse,
)
from optinface.consent.service import OptinFace
from optinface.consent.tables import AuditEvent, Subject
from tests.support.backends import both_backends
from tests.support.consent import (
    World,
    outside_copy,
    outside_put_back,
    refused,
    row_count,
)

ORDER = "CAI-RT5-3"


def _token(world: World, pseudonym: str) -> str:
    """The person's own subject token from a passkey sign-in (the red team's T)."""
    person = world.people[pseudonym]
    challenge = world.service.sign_in_options()
    return world.service.sign_in(PasskeyResponse(
        ceremony_id=challenge.ceremony_id,
        credential=person.authenticator.get(challenge.options))).subject_token


def _erase(world: World, *pseudonyms: str) -> None:
    for pseudonym in pseudonyms:
        world.service.erase(actor=world.admin, subject=pseudonym, reason=ErasureReason.REQUEST)


def _events(service: OptinFace, action: AuditAction) -> list[dict[str, Any]]:
    with service.runtime.db.transaction() as session:
        return [details for details in session.scalars(
            select(AuditEvent.details).where(AuditEvent.action == str(action))
            .order_by(AuditEvent.seq))]


def _no_way_into(world: World, pseudonym: str) -> None:
    """Every way into the erased subject that chains nothing when refused is refused as for an
    erased subject: a read or an export by an operator, the person's own copy of their
    templates, a new enrolment link, a sign-in with their passkey."""
    service, person = world.service, world.people[pseudonym]
    refused("subject_erased", lambda: service.get_subject(actor=world.admin, subject=pseudonym))
    refused("subject_erased", lambda: service.export(actor=world.admin, subject=pseudonym))
    refused("subject_erased", lambda: service.export(actor=person.actor, subject=pseudonym,
                                                     vectors=True))
    refused("subject_erased", lambda: service.new_enrolment_link(
        actor=world.portal, subject=pseudonym, capacity=ConsentCapacity.SELF))
    refused("subject_erased", lambda: _token(world, pseudonym))


def _signed_acts(world: World, pseudonym: str, consent_id: str, portrait: bytes) -> None:
    """The erased subject's signed acts are refused (a capture the desk opens for them, their
    opt-out), each refusal chained."""
    person = world.people[pseudonym]
    refused("subject_erased", lambda: person.approve_capture(consent_id, portrait,
                                                             desk=world.portal))
    refused("subject_erased", lambda: person.set_searchable(False))


@both_backends
def test_an_erased_subjects_rows_put_back_by_sql_open_no_way_into_them(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
) -> None:
    """No replay involved: the log is untouched, so nothing finds a restore; the journal
    alone keeps the rows from acting."""
    erased, consent_id = world.subject()
    world.enrol(erased, consent_id, portrait_jpegs[0])
    token = _token(world, erased)
    tables = ("subjects", "subject_keys", "templates", "passkey_credentials", "subject_tokens")
    copied = {table: outside_copy(world.service, table) for table in tables}
    [subject_id] = [row["id"] for row in copied["subjects"] if row["pseudonym"] == erased]
    _erase(world, erased)
    for table in tables:  # the operator puts the erased person's rows back, the service running
        outside_put_back(world.service, table, [
            row for row in copied[table]
            if row.get("subject_id", row["id"] if table == "subjects" else None) == subject_id])
    assert row_count(world.service, Subject, Subject.pseudonym == erased) == 1
    refused("unauthenticated", lambda: world.service.authenticate(token))
    _no_way_into(world, erased)
    _signed_acts(world, erased, consent_id, portrait_jpegs[1])
    assert world.identify(flipped_jpegs[0]).candidates == []
    assert not _events(world.service, AuditAction.LOG_TRUNCATED)  # the journal alone held
