"""Writes other than an erasure read back what they changed before they answer (compliance
"Still open", round 5): a trigger made by hand on a running worker's ledger must not undo a
withdrawal, a template's destruction or a revocation while the person or the operator is told
it is done (consent.ledger_alterations.require_held). The triggers are made as red team 5's
were, by SQL on a connection of the operator's own."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from optinface.consent.audit import AuditAction
from optinface.consent.erasure_journal import journal_path
from optinface.consent.errors import ConsentError, LedgerAltered, WriteUnfinished
from optinface.consent.page_sessions import SIGN_IN_TOKEN_LIFETIME
from optinface.consent.roles import Role
from optinface.consent.schemas import AuditFilter, Operation
from optinface.consent.tables import ApiKey, Consent, ConsentStatus, SubjectToken, Template
from tests.support.backends import both_backends
from tests.support.consent import (
    World,
    drop_triggers,
    keep_deleted_rows,
    keep_updated_rows,
    outside_sql,
    row_count,
    sign_in_answer,
)


def refusal(call: object) -> ConsentError:
    assert callable(call)
    with pytest.raises(ConsentError) as raised:
        call()
    return raised.value


def refusals_chained(world: World, attempted: AuditAction) -> list[tuple[str, str]]:
    """The chained refusals of ``attempted``: (outcome, the refusal's code) each."""
    found = world.service.audit_events(
        actor=world.reviewer, filters=AuditFilter(action=AuditAction.REFUSED)).events
    return [(event.outcome, event.details["attempted"]) for event in found
            if event.details.get("attempted") == attempted]


def consent_row(world: World, consent_id: str) -> tuple[str, bool]:
    with world.service.runtime.db.transaction() as session:
        row = session.get(Consent, consent_id)
        assert row is not None
        return row.status, row.withdrawn_at is not None


@both_backends
def test_a_withdrawal_a_trigger_undoes_is_refused_and_the_person_told(
    world: World, portrait_jpegs: list[bytes],
) -> None:
    """A trigger that keeps the consent's row as it was (PostgreSQL: ``BEFORE UPDATE``
    returning ``OLD``): the withdrawal is refused (``write_unfinished``, the table named), not
    answered as done; nothing is signed or destroyed, the refusal is chained, and the journal
    line written before the commit stays for the next start. Dropped, the withdrawal holds."""
    service = world.service
    pseudonym, consent_id = world.subject()
    world.enrol(pseudonym, consent_id, portrait_jpegs[0])
    assert [c.subject for c in world.identify(portrait_jpegs[0]).candidates] == [pseudonym]
    keep_updated_rows(service, "consents", "status", "withdrawn_at")

    undone = refusal(lambda: world.withdraw(pseudonym, consent_id))
    assert isinstance(undone, WriteUnfinished) and undone.code == "write_unfinished"
    assert undone.details == {"kept": ["consents"]}
    assert consent_row(world, consent_id) == (ConsentStatus.ACTIVE, False)
    assert row_count(service, Template) == 1  # rolled back with the rest
    with service.runtime.db.transaction() as session:
        assert session.scalar(select(Consent.withdrawal_receipt)
                              .where(Consent.id == consent_id)) is None
    assert refusals_chained(world, AuditAction.CONSENT_WITHDRAWN) == [
        ("write_unfinished", "consent_withdrawn")]
    assert consent_id in journal_path(service.settings.witness_dir).read_text()
    # the journal's line is asked at each search, as for a restored copy: none finds them
    assert world.identify(portrait_jpegs[0]).outcome == "no_candidate"

    drop_triggers(service, "consents")
    withdrawn = world.withdraw(pseudonym, consent_id)
    assert withdrawn.subject_erased and withdrawn.templates_erased == 1


@both_backends
def test_a_withdrawal_whose_update_a_trigger_skips_is_refused_not_an_unexpected_failure(
    world: World,
) -> None:
    """A trigger that skips the row (PostgreSQL: ``BEFORE UPDATE`` returning ``NULL``;
    SQLite: ``RAISE(IGNORE)``): the statement changes nothing, which the session finds at
    its flush, before any read-back: the same refusal, the table named."""
    service = world.service
    pseudonym, consent_id = world.subject()
    if service.runtime.db.shared:
        outside_sql(service, "CREATE FUNCTION skip_the_row() RETURNS trigger LANGUAGE plpgsql"
                             " AS $$ BEGIN RETURN NULL; END $$")
        outside_sql(service, "CREATE TRIGGER keep_consents BEFORE UPDATE ON consents"
                             " FOR EACH ROW EXECUTE FUNCTION skip_the_row()")
    else:
        outside_sql(service, "CREATE TRIGGER keep_consents BEFORE UPDATE ON consents"
                             " BEGIN SELECT RAISE(IGNORE); END")
    undone = refusal(lambda: world.withdraw(pseudonym, consent_id))
    assert isinstance(undone, WriteUnfinished) and undone.details == {"kept": ["consents"]}
    assert consent_row(world, consent_id) == (ConsentStatus.ACTIVE, False)
    assert refusals_chained(world, AuditAction.CONSENT_WITHDRAWN) == [
        ("write_unfinished", "consent_withdrawn")]


@both_backends
def test_a_trigger_that_leaves_the_withdrawal_alone_still_refuses_it(world: World) -> None:
    """Nothing kept to read back, but a trigger on any of the ledger's tables could put the
    rows back at the commit where no read sees it: ``ledger_altered``, rolled back."""
    service = world.service
    pseudonym, consent_id = world.subject()
    keep_deleted_rows(service, "purposes")
    altered = refusal(lambda: world.withdraw(pseudonym, consent_id))
    assert isinstance(altered, LedgerAltered)
    assert altered.details == {"found": ["trigger on purposes"]}
    assert consent_row(world, consent_id) == (ConsentStatus.ACTIVE, False)


@both_backends
def test_a_purpose_withdrawal_a_trigger_undoes_is_refused(world: World) -> None:
    """The consent's end kept as it was: refused, the purpose still in the consent, no
    purpose-withdrawal receipt."""
    service = world.service
    other = world.purpose_with(Operation.ENROL, name="study-9", retention_days=7300)
    pseudonym, consent_id = world.subject(purposes=[world.purpose, other])
    keep_updated_rows(service, "consents", "retained_until")
    undone = refusal(lambda: world.withdraw_purpose(pseudonym, consent_id, other))
    assert isinstance(undone, WriteUnfinished) and undone.details == {"kept": ["consents"]}
    assert service.purpose_withdrawals(actor=world.portal, subject=pseudonym) == []
    with service.runtime.db.transaction() as session:
        consent = session.get(Consent, consent_id)
        assert consent is not None
        assert sorted(p.id for p in consent.purposes) == sorted([world.purpose, other])
    assert refusals_chained(world, AuditAction.CONSENT_WITHDRAWN) == [
        ("write_unfinished", "consent_withdrawn")]


@both_backends
def test_a_rectification_whose_replaced_template_a_trigger_keeps_is_refused(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes],
) -> None:
    """A ``BEFORE DELETE`` trigger on the templates: the replacement is refused, the old
    template stays the only one, the new photo is not stored, and its vector is not left in
    the index (review 20c #5: the index is written after the ledger's read-back); the old
    template, removed from the index before the read-back refused, is put back at once and
    found (review 20d #2), not at the next start."""
    service = world.service
    pseudonym, consent_id = world.subject()
    old = world.enrol(pseudonym, consent_id, portrait_jpegs[0])
    keep_deleted_rows(service, "templates")
    undone = refusal(lambda: world.enrol(pseudonym, consent_id, flipped_jpegs[0],
                                         replaces=old.id))
    assert isinstance(undone, WriteUnfinished) and undone.details == {"kept": ["templates"]}
    with service.runtime.db.transaction() as session:
        assert list(session.scalars(select(Template.id))) == [old.id]
    assert service.runtime.index.labels() == {old.id}
    drop_triggers(service, "templates")
    assert [c.subject for c in world.identify(portrait_jpegs[0]).candidates] == [pseudonym]


@both_backends
def test_a_revocation_a_trigger_undoes_is_refused_and_chained(world: World) -> None:
    """The key's row kept unrevoked: the revocation is refused, not answered as done, and
    chained; once the trigger goes it holds."""
    service = world.service
    created = service.create_api_key(actor=world.admin, role=Role.PORTAL, name="kiosk")
    keep_updated_rows(service, "api_keys", "revoked_at", "seal")
    undone = refusal(lambda: service.revoke_api_key(actor=world.admin, key_id=created.key_id))
    assert isinstance(undone, WriteUnfinished) and undone.details == {"kept": ["api_keys"]}
    assert refusals_chained(world, AuditAction.KEY_REVOKED) == [
        ("write_unfinished", "key_revoked")]
    drop_triggers(service, "api_keys")
    service.revoke_api_key(actor=world.admin, key_id=created.key_id)
    with service.runtime.db.transaction() as session:
        key = session.get(ApiKey, created.key_id)
        assert key is not None and key.revoked_at is not None


@both_backends
def test_an_opt_out_a_trigger_undoes_is_refused(world: World) -> None:
    """The subject's row kept searchable: the opt-out is refused and chained, the row as it
    was; once the trigger goes it holds."""
    service = world.service
    pseudonym, _ = world.subject()
    keep_updated_rows(service, "subjects", "searchable", "searchable_since", "searchable_seal")
    undone = refusal(lambda: world.people[pseudonym].set_searchable(False))
    assert isinstance(undone, WriteUnfinished) and undone.details == {"kept": ["subjects"]}
    assert refusals_chained(world, AuditAction.SUBJECT_UPDATED) == [
        ("write_unfinished", "subject_updated")]
    drop_triggers(service, "subjects")
    assert not world.people[pseudonym].set_searchable(False).searchable


@both_backends
def test_a_choice_of_the_alternative_whose_templates_a_trigger_keeps_is_refused(
    world: World, portrait_jpegs: list[bytes],
) -> None:
    """Their face is no longer to be used: refused while the templates stay, the choice not
    recorded, and chained."""
    service = world.service
    pseudonym = world.enrolled(portrait_jpegs[0])
    keep_deleted_rows(service, "templates")
    person = world.people[pseudonym]
    undone = refusal(lambda: service.choose_alternative(actor=person.actor, subject=pseudonym))
    assert isinstance(undone, WriteUnfinished) and undone.details == {"kept": ["templates"]}
    assert row_count(service, Template) == 1
    assert refusals_chained(world, AuditAction.ALTERNATIVE_CHOSEN) == [
        ("write_unfinished", "alternative_chosen")]


@both_backends
def test_a_log_out_whose_token_a_trigger_keeps_is_refused(world: World) -> None:
    """The portal session's subject token kept by a ``BEFORE DELETE`` trigger: the log-out is
    refused, not answered as done (the token's id is journaled, so it is refused all the
    same); once the trigger goes the log-out deletes it."""
    service = world.service
    person = world.person()
    _, session_id = service.sign_in_to_page(sign_in_answer(service, person.authenticator),
                                            lifetime=SIGN_IN_TOKEN_LIFETIME)
    tokens = row_count(service, SubjectToken)  # the session's, and the person's own
    keep_deleted_rows(service, "subject_tokens")
    undone = refusal(lambda: service.end_page_session(session_id))
    assert isinstance(undone, WriteUnfinished)
    assert undone.details == {"kept": ["subject_tokens"]}
    assert service.page_session(session_id, "portal") is not None  # rolled back, not ended
    drop_triggers(service, "subject_tokens")
    service.end_page_session(session_id)
    assert service.page_session(session_id, "portal") is None
    assert row_count(service, SubjectToken) == tokens - 1
