"""The pages' sessions in the ledger (consent.page_sessions): every worker reads them, a
restart keeps them, expiry and erasure end them, and the database alone opens none."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing

import pytest
from sqlalchemy import select, update

from optinface.consent import page_sessions
from optinface.consent.errors import SubjectErased
from optinface.consent.schemas import ErasureReason
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import PageSession
from optinface.engine.pipeline import FacePipeline
from tests.support.backends import both_backends
from tests.support.consent import FakeClock, World
from tests.support.files import occurrences

LIFETIME = page_sessions.SIGN_IN_TOKEN_LIFETIME * 4  # any lifetime: eight hours
SECRET = "reviewer-secret-that-must-never-reach-the-ledger"


def _rows(service: OptinFace) -> list[PageSession]:
    with service.runtime.db.reading() as session:
        return list(session.scalars(select(PageSession)))


@both_backends
def test_a_session_survives_a_restart_until_it_expires_then_is_refused_and_deleted(
    service: OptinFace, open_service: Callable[[], OptinFace], clock: FakeClock
) -> None:
    session_id = service.open_page_session(area="review", secret=SECRET, subject=None,
                                           lifetime=LIFETIME)
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
    service.open_page_session(area="review", secret=SECRET, subject=None, lifetime=LIFETIME)
    clock.advance(seconds=LIFETIME.total_seconds())
    service.sweep(actor=None)
    assert _rows(service) == []
    service.open_page_session(area="review", secret=SECRET, subject=None, lifetime=LIFETIME)
    clock.advance(seconds=LIFETIME.total_seconds())
    kept = service.open_page_session(area="review", secret=SECRET, subject=None,
                                     lifetime=LIFETIME)
    assert [r.id_hash for r in _rows(service)] == [page_sessions.id_hash(kept)]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_session_opened_on_one_worker_is_honoured_and_ended_on_another(
    service: OptinFace, settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock
) -> None:
    second = settings.model_copy(update={"data_dir": settings.data_dir.with_name("worker-b")})
    with closing(OptinFace.open(second, pipeline=pipeline, clock=clock)) as worker_b:
        session_id = service.open_page_session(area="review", secret=SECRET, subject=None,
                                               lifetime=LIFETIME)
        found = worker_b.page_session(session_id, "review")
        assert found is not None and found.secret == SECRET
        worker_b.end_page_session(session_id)  # the log-out, on worker B
        assert service.page_session(session_id, "review") is None


@both_backends
def test_a_copy_of_the_ledger_holds_no_session_id_and_no_secret_and_its_rows_open_nothing(
    service: OptinFace, settings: ConsentSettings
) -> None:
    session_id = service.open_page_session(area="review", secret=SECRET, subject=None,
                                           lifetime=LIFETIME)
    other = service.open_page_session(area="review", secret="another", subject=None,
                                      lifetime=LIFETIME)
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
    reviewer = service.open_page_session(area="review", secret="reviewer", subject=None,
                                         lifetime=LIFETIME)
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
