"""The pages' sessions in the ledger (consent.page_sessions): every worker reads them, a
restart keeps them, expiry and erasure end them, the database alone opens none, an edited
expiry opens nothing, and a portal session's token expires with it and dies at its log-out."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from optinface.consent import page_sessions
from optinface.consent.errors import SubjectErased, Unauthenticated
from optinface.consent.schemas import ErasureReason, SignedIn
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.consent.soft_person import SoftPerson
from optinface.consent.tables import PageSession, SubjectToken
from optinface.engine.pipeline import FacePipeline
from tests.support.backends import both_backends
from tests.support.consent import (
    FakeClock,
    World,
    outside_copy,
    outside_put_back,
    outside_sql,
    row_count,
    sign_in_answer,
)
from tests.support.files import occurrences

LIFETIME = page_sessions.SIGN_IN_TOKEN_LIFETIME * 4  # any lifetime: eight hours
SECRET = "reviewer-secret-that-must-never-reach-the-ledger"


def _reviewers(service: OptinFace, secret: str = SECRET) -> str:
    """A reviewer's dashboard session carrying ``secret``: its id, the cookie's value."""
    return service.open_page_session(area="review", secret=secret, subject=None,
                                     lifetime=LIFETIME)


def _rows(service: OptinFace) -> list[PageSession]:
    with service.runtime.db.reading() as session:
        return list(session.scalars(select(PageSession)))


@both_backends
def test_a_session_survives_a_restart_until_it_expires_then_is_refused_and_deleted(
    service: OptinFace, open_service: Callable[[], OptinFace], clock: FakeClock
) -> None:
    session_id = _reviewers(service)
    service.close()
    with closing(open_service()) as restarted:
        found = restarted.page_session(session_id, "review")
        assert found is not None and found.secret == SECRET
        assert found.csrf == page_sessions.csrf_token(session_id)
        assert restarted.page_session(session_id, "portal") is None  # the other area: never
        clock.advance(seconds=LIFETIME.total_seconds())
        assert restarted.page_session(session_id, "review") is None
        assert _rows(restarted) == []  # refused and deleted


def test_the_sweep_and_each_sign_in_delete_expired_sessions(
    service: OptinFace, clock: FakeClock
) -> None:
    _reviewers(service)
    clock.advance(seconds=LIFETIME.total_seconds())
    service.sweep(actor=None)
    assert _rows(service) == []
    _reviewers(service)
    clock.advance(seconds=LIFETIME.total_seconds())
    kept = _reviewers(service)
    assert [r.id_hash for r in _rows(service)] == [page_sessions.id_hash(kept)]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_session_opened_on_one_worker_is_honoured_and_ended_on_another(
    service: OptinFace, settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock
) -> None:
    second = settings.model_copy(update={"data_dir": settings.data_dir.with_name("worker-b")})
    with closing(OptinFace.open(second, pipeline=pipeline, clock=clock)) as worker_b:
        session_id = _reviewers(service)
        found = worker_b.page_session(session_id, "review")
        assert found is not None and found.secret == SECRET
        worker_b.end_page_session(session_id)  # the log-out, on worker B
        assert service.page_session(session_id, "review") is None


@both_backends
def test_a_copy_of_the_ledger_holds_no_session_id_and_no_secret_and_its_rows_open_nothing(
    service: OptinFace, settings: ConsentSettings
) -> None:
    session_id = _reviewers(service)
    other = _reviewers(service, "another")
    [row, _] = sorted(_rows(service), key=lambda r: r.id_hash != page_sessions.id_hash(session_id))
    stored = b"".join(str(getattr(row, c.key)).encode() for c in PageSession.__table__.columns)
    assert SECRET.encode() not in stored and session_id.encode() not in stored
    if service.runtime.db.shared is False:  # the SQLite file itself, every page of it
        assert occurrences(settings.data_dir, SECRET.encode()) == []
        assert occurrences(settings.data_dir, session_id.encode()) == []
    # What the row holds, presented as the cookie, opens nothing.
    assert service.page_session(row.id_hash, "review") is None
    # A database writer who moves one session's sealed secret into another's row gets nothing:
    # the seal is bound to its row and opened by its own id only.
    with service.runtime.db.transaction() as session:
        session.execute(update(PageSession)
                        .where(PageSession.id_hash == page_sessions.id_hash(other))
                        .values(nonce=row.nonce, sealed=row.sealed))
    assert service.page_session(other, "review") is None
    assert service.page_session(session_id, "review") is not None


@both_backends
def test_erasure_ends_the_subjects_sessions_in_its_transaction_and_says_so_once(
    world: World, service: OptinFace, settings: ConsentSettings
) -> None:
    person = world.person()
    theirs = service.open_page_session(area="portal", secret=SECRET, subject=person.pseudonym,
                                       lifetime=LIFETIME)
    reviewer = _reviewers(service, "reviewer")
    assert all(person.pseudonym not in str(r.subject_hash) for r in _rows(service))
    service.erase(actor=world.admin, subject=person.pseudonym, reason=ErasureReason.REQUEST)
    [erased] = [r for r in _rows(service) if r.id_hash == page_sessions.id_hash(theirs)]
    assert (erased.erased, erased.sealed, erased.nonce, erased.subject_hash) == (
        True, None, None, None)
    with pytest.raises(SubjectErased):
        service.page_session(theirs, "portal")
    assert service.page_session(theirs, "portal") is None  # said once; the session is over
    assert service.page_session(reviewer, "review") is not None  # nobody else's ends
    if service.runtime.db.shared is False:
        assert occurrences(settings.data_dir, person.pseudonym.encode()) == []


def test_a_sign_in_token_holds_only_for_its_area_its_deployment_and_two_hours(
    service: OptinFace, clock: FakeClock
) -> None:
    token = service.sign_in_token("review")
    assert service.sign_in_token_valid(token, "review")
    assert not service.sign_in_token_valid(token, "portal")
    made, _, mac = token.rpartition(".")
    assert not service.sign_in_token_valid(f"{made}.{'0' * len(mac)}", "review")
    assert not service.sign_in_token_valid("1.x.y", "review")
    assert not service.sign_in_token_valid("é.\u202e.", "review")
    clock.advance(seconds=page_sessions.SIGN_IN_TOKEN_LIFETIME.total_seconds() + 1)
    assert not service.sign_in_token_valid(token, "review")


@both_backends
def test_an_expiry_pushed_out_in_the_database_makes_the_row_open_nothing(
    service: OptinFace, clock: FakeClock
) -> None:
    session_id = _reviewers(service)
    [row] = _rows(service)
    outside_sql(service, "UPDATE page_sessions SET expires_at = :at",
                at=datetime(2999, 1, 1))
    assert service.page_session(session_id, "review") is None  # now, and at any time after
    clock.advance(seconds=LIFETIME.total_seconds() * 10)
    assert service.page_session(session_id, "review") is None
    clock.advance(seconds=-LIFETIME.total_seconds() * 10)
    outside_sql(service, "UPDATE page_sessions SET expires_at = :at",
                at=row.expires_at.replace(tzinfo=None))
    found = service.page_session(session_id, "review")  # its own expiry: it opens again
    assert found is not None and found.secret == SECRET


def _portal_sign_in(service: OptinFace, person: SoftPerson) -> tuple[SignedIn, str]:
    """The portal's passkey sign-in, as the page asks it: the person and the session's id."""
    return service.sign_in_to_page(sign_in_answer(service, person.authenticator), lifetime=LIFETIME)


@both_backends
def test_a_portal_sessions_token_expires_with_it_and_the_apis_sign_in_keeps_its_years(
    world: World, service: OptinFace, settings: ConsentSettings, clock: FakeClock
) -> None:
    person = world.people[world.subject()[0]]  # consented: the sweep keeps their record
    signed, session_id = _portal_sign_in(service, person)
    assert signed.token_expires_at == clock.now() + LIFETIME
    [row] = _rows(service)
    found = service.page_session(session_id, "portal")
    assert found is not None and found.secret == signed.subject_token
    assert row.expires_at == signed.token_expires_at
    assert service.authenticate(found.secret).subject == person.pseudonym
    # The API's sign-in: the token the person keeps.
    own = service.sign_in(sign_in_answer(service, person.authenticator))
    assert own.token_expires_at == clock.now() + timedelta(days=settings.subject_token_days)
    clock.advance(seconds=LIFETIME.total_seconds())
    with pytest.raises(Unauthenticated):
        service.authenticate(found.secret)
    service.sweep(actor=None)  # the expired session goes, and the token it carried
    assert _rows(service) == []
    token_id = found.secret.partition(".")[0]
    assert row_count(service, SubjectToken, SubjectToken.id == token_id) == 0
    assert service.authenticate(own.subject_token).subject == person.pseudonym


@both_backends
def test_log_out_revokes_the_token_so_rows_put_back_from_a_copy_open_nothing(
    world: World, service: OptinFace
) -> None:
    person = world.person()
    # A token the person keeps, for the API.
    own = service.sign_in(sign_in_answer(service, person.authenticator))
    _, session_id = _portal_sign_in(service, person)
    found = service.page_session(session_id, "portal")
    assert found is not None
    token = found.secret  # what the cookie and a copy of the database open, while signed in
    copied = {table: outside_copy(service, table) for table in ("page_sessions",
                                                                 "subject_tokens")}
    token_rows = [r for r in copied["subject_tokens"] if token.startswith(f"{r['id']}.")]
    assert service.authenticate(token).subject == person.pseudonym
    service.end_page_session(session_id)  # the log-out
    assert row_count(service, SubjectToken, SubjectToken.id == token_rows[0]["id"]) == 0
    with pytest.raises(Unauthenticated):
        service.authenticate(token)
    outside_put_back(service, "page_sessions", copied["page_sessions"])
    found = service.page_session(session_id, "portal")  # the row opens; what it holds is dead
    assert found is not None and found.secret == token
    with pytest.raises(Unauthenticated):
        service.authenticate(token)
    outside_put_back(service, "subject_tokens", token_rows)  # the token's row as well
    with pytest.raises(Unauthenticated):  # journaled: no worker takes it again
        service.authenticate(token)
    assert service.authenticate(own.subject_token).subject == person.pseudonym  # not the session's
