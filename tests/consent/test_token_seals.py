"""Subject token seals (consent.row_seals, kind ``subject-token``): a token acts only for the
subject the service issued it to, and goes with that subject's erasure.

The attack is the outside tester's (red team 3, finding 1, tokmove.py): the operator takes over
a subject shell of their own, signs in, and moves the token's row to another person with
``UPDATE subject_tokens SET subject_id = <alice's id>`` on a connection of its own while the
service runs; the token then read alice's record with her template's vectors, and outlived the
erasure of the shell it was issued for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import closing
from typing import Any

import pytest
from sqlalchemy import select

from optinface.consent import row_seals
from optinface.consent.errors import Forbidden, Unauthenticated
from optinface.consent.roles import Actor
from optinface.consent.schemas import ErasureReason
from optinface.consent.service import OptinFace
from optinface.consent.tables import AuditEvent, SubjectToken
from tests.support.backends import both_backends
from tests.support.consent import (
    FakeClock,
    World,
    make_world,
    new_subject_token,
    outside_sql,
    row_count,
)

APIKEYS_LOG = "optinface.consent.apikeys"


def _move(service: OptinFace, token: str, *, to: str) -> None:
    outside_sql(service, "UPDATE subject_tokens SET subject_id = (SELECT id FROM subjects"
                " WHERE pseudonym = :p) WHERE id = :t", p=to, t=token.split(".")[0])


def _refused(service: OptinFace, token: str) -> None:
    with pytest.raises(Unauthenticated):
        service.authenticate(token)


def _failure_details(service: OptinFace) -> list[dict[str, Any]]:
    service.flush_auth_failures()
    with service.runtime.db.transaction() as session:
        return [dict(d) for d in session.scalars(select(AuditEvent.details).where(
            AuditEvent.action == "login_failure"))]


def _alice(world: World, portrait: bytes) -> str:
    """A person with a template: what an export with vectors would hand out."""
    pseudonym, consent_id = world.subject()
    world.enrol(pseudonym, consent_id, portrait)
    return pseudonym


@both_backends
def test_a_token_moved_to_another_subject_in_the_database_acts_for_no_one(
    world: World, portrait_jpegs: list[bytes], caplog: pytest.LogCaptureFixture,
) -> None:
    """tokmove.py: the operator's own token gets no export of alice's before the move (403),
    and after it authenticates no one (401, tallied as ``unsealed``, logged once as an error
    however often it is presented); alice's own token still copies her template."""
    service = world.service
    alice = _alice(world, portrait_jpegs[0])
    mallory = world.person()
    token = new_subject_token(service, mallory)
    with pytest.raises(Forbidden):
        service.export(actor=service.authenticate(token), subject=alice, vectors=True)
    _move(service, token, to=alice)
    with caplog.at_level(logging.ERROR, logger=APIKEYS_LOG):
        _refused(service, token)
        _refused(service, token)
    said = [r for r in caplog.records if r.name == APIKEYS_LOG
            and token.split(".")[0] in r.getMessage()]
    assert len(said) == 1 and token not in said[0].getMessage()  # the id, never the secret
    failures = _failure_details(service)
    assert sum(d["reasons"].get("unsealed", 0) for d in failures) == 2, failures
    assert all(d["key_ids"] == [token.split(".")[0]] for d in failures), failures
    own = service.authenticate(new_subject_token(service, world.people[alice]))
    copied = service.export(actor=own, subject=alice, vectors=True)
    assert copied.template_vectors and service.verify_audit().ok


@both_backends
def test_an_erased_subjects_tokens_go_with_the_erasure_even_one_moved_away(world: World) -> None:
    """The token-after-erasure report: the erasure deletes, in its transaction, every token
    issued to the subject, the one moved to someone else by SQL before it too (found by its
    owner hash); none of them authenticates after it, wherever its row is moved back."""
    service = world.service
    alice, _ = world.subject()
    mallory = world.person()
    kept, moved = new_subject_token(service, mallory), new_subject_token(service, mallory)
    _move(service, moved, to=alice)
    service.erase(actor=mallory.actor, subject=mallory.pseudonym, reason=ErasureReason.REQUEST)
    for token in (kept, moved, mallory.actor.key_id + "."):
        assert row_count(service, SubjectToken, SubjectToken.id == token.split(".")[0]) == 0
    _refused(service, kept)
    _refused(service, moved)
    assert service.authenticate(new_subject_token(service, world.people[alice])).subject == alice


def test_a_token_with_a_later_expiry_or_another_capacity_acts_for_no_one(world: World) -> None:
    """What else the seal covers: an expiry pushed out and a capacity raised by SQL."""
    service = world.service
    person = world.person()
    for edit in ("expires_at = '2999-01-01 00:00:00'", "capacity = 'parental_authority'"):
        token = new_subject_token(service, person)
        assert service.authenticate(token).subject == person.pseudonym
        outside_sql(service, f"UPDATE subject_tokens SET {edit} WHERE id = :t",
                    t=token.split(".")[0])
        _refused(service, token)


def _as_before_token_seals(service: OptinFace) -> None:
    """The tokens as a version from before migration 0036 left them: no seal, no owner."""
    outside_sql(service, "UPDATE subject_tokens SET seal = NULL, owner_hash = NULL")


def _reopened(world: World, service: OptinFace) -> None:
    world.service = service
    for person in world.people.values():
        person.service = service


@pytest.mark.first_start
def test_tokens_from_before_token_seals_are_adopted_once_and_one_moved_after_is_not(
    open_service: Callable[[], OptinFace], clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A deployment from before migration 0036: its tokens carry no seal and authenticate no
    one. The first start after the upgrade seals them, chained once with the count; a token
    moved after that is adopted by no later start."""
    with monkeypatch.context() as older:  # the version before: no token adoption
        older.setattr(row_seals, "adopt_tokens_once", lambda runtime, **_: None)
        with closing(open_service()) as service:
            world = make_world(service, clock)
            alice, _ = world.subject()
            token = new_subject_token(service, world.people[alice])
            mallory = new_subject_token(service, world.person())
            _as_before_token_seals(service)
            _refused(service, token)
            present = row_count(service, SubjectToken)
    with closing(open_service()) as service:  # the first start after the upgrade
        _reopened(world, service)
        with service.runtime.db.transaction() as session:
            [adopted] = session.scalars(select(AuditEvent.details).where(
                AuditEvent.action == "token_seals_adopted")).all()
        assert adopted == {"subject_tokens": present}
        assert service.authenticate(token).subject == alice
        _move(service, mallory, to=alice)
    with closing(open_service()) as service:  # a later start adopts nothing more
        _reopened(world, service)
        assert row_count(service, AuditEvent, AuditEvent.action == "token_seals_adopted") == 1
        _refused(service, mallory)
        assert service.authenticate(token).subject == alice


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # PostgreSQL refuses it
@pytest.mark.first_start
def test_a_token_naming_no_subject_is_sealed_by_neither_the_adoption_nor_the_reseal(
    open_service: Callable[[], OptinFace], clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A token row planted with a subject id no subject has (a console with the foreign keys
    off) acts for no one: the adoption and the reseal take the same tokens, those naming a
    subject, and the dry run lists the planted one for the operator, before and after."""
    with monkeypatch.context() as older:  # the version before: no token adoption
        older.setattr(row_seals, "adopt_tokens_once", lambda runtime, **_: None)
        with closing(open_service()) as service:
            world = make_world(service, clock)
            new_subject_token(service, world.person())
            planted = new_subject_token(service, world.person()).split(".")[0]
            outside_sql(service, "UPDATE subject_tokens SET subject_id = 999999 WHERE id = :t",
                        t=planted)
            _as_before_token_seals(service)
            named = row_count(service, SubjectToken) - 1
    with closing(open_service()) as service:  # the first start after the upgrade
        with service.runtime.db.transaction() as session:
            [adopted] = session.scalars(select(AuditEvent.details).where(
                AuditEvent.action == "token_seals_adopted")).all()
        assert adopted == {"subject_tokens": named}
        _as_before_token_seals(service)
        looked = service.reseal_rows(reason="CHG-12: tokens checked", dry_run=True)
        assert planted in looked.were_unsealed["subject_tokens"]
        done = service.reseal_rows(reason="CHG-12: tokens checked")
        assert done.sealed is not None and done.sealed["subject_tokens"] == named
        assert done.were_unsealed["subject_tokens"] == looked.were_unsealed["subject_tokens"]
        again = service.reseal_rows(reason="CHG-12: tokens checked", dry_run=True)
        assert again.were_unsealed["subject_tokens"] == [planted]


def test_reseal_seals_the_subject_tokens_the_operator_looked_at(world: World) -> None:
    """``optinface keys reseal``: its dry run names the unsealed token (by its public id), and
    the reseal makes it the named subject's again, chained with the count."""
    service = world.service
    person = world.person()
    token = new_subject_token(service, person)
    _as_before_token_seals(service)
    _refused(service, token)
    looked = service.reseal_rows(reason="CHG-12: tokens checked", dry_run=True)
    assert token.split(".")[0] in looked.were_unsealed["subject_tokens"]
    done = service.reseal_rows(reason="CHG-12: tokens checked")
    assert done.sealed is not None and done.sealed["subject_tokens"] == row_count(
        service, SubjectToken)
    actor: Actor = service.authenticate(token)
    assert actor.subject == person.pseudonym


def test_the_token_seal_is_its_own_kind_and_names_its_subject(world: World) -> None:
    """A token's seal never passes for another kind's, nor for another subject's token."""
    keys = world.service.runtime.keys
    fields = {"id": "stk_x", "subject": "subj_x", "capacity": "self", "secretHash": "00",
              "expiresAt": None}
    assert row_seals.seal(keys, row_seals.RowKind.SUBJECT_TOKEN, fields) != row_seals.seal(
        keys, row_seals.RowKind.API_KEY, fields)
    assert row_seals.seal(keys, row_seals.RowKind.SUBJECT_TOKEN, fields) != row_seals.seal(
        keys, row_seals.RowKind.SUBJECT_TOKEN, fields | {"subject": "subj_y"})
