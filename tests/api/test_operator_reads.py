"""Every operator's read of personal data leaves one chained ``audit_read`` event (X-LOG).

Through the API and the reviewer's pages and downloads: the reader's key, the view read, its
filters and how many rows each list returned; the person a reader named is among the event's
subjects, never in its details; a subject reading their own record leaves nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from optinface.consent.audit import AuditAction
from optinface.consent.schemas import AuditFilter
from optinface.consent.service import OptinFace
from optinface.consent.tables import AuditEvent
from tests.support.api import World, auth, page_login

pytestmark = pytest.mark.shared_deployment


@dataclass(frozen=True, slots=True)
class Read:
    """One read: who reads what, and the event it must chain."""

    role: str  # the key's role, or "subject" for the person's own token
    path: str  # ``{subject}`` and ``{erased}`` filled in by the test
    view: str
    lists: tuple[str, ...]
    names: tuple[str, ...] = ()  # "subject", "erased": who the event's subjects name

    @property
    def page(self) -> bool:
        return not self.path.startswith("/v1/")


API_READS = [
    Read("reviewer", "/v1/ledger", "consent_ledger", ("consent_ledger",)),
    Read("admin", "/v1/ledger", "consent_ledger", ("consent_ledger",)),
    Read("reviewer", "/v1/erasures", "erasures", ("erasures",)),
    Read("reviewer", "/v1/requests", "rights_requests", ("rights_requests",)),
    Read("admin", "/v1/requests", "rights_requests", ("rights_requests",)),
    Read("reviewer", "/v1/incidents", "incidents", ("incidents",)),
    Read("verifier", "/v1/reviews", "pending_reviews", ("pending_reviews",)),
    Read("reviewer", "/v1/audit/events?subject={subject}", "audit_events", ("audit_events",),
         ("subject",)),
    Read("reviewer", "/v1/audit/export?format=csv", "/v1/audit/export", ("audit_events",)),
    Read("portal", "/v1/subjects/{subject}", "subject", ("subject",), ("subject",)),
    Read("admin", "/v1/subjects/{subject}/consents", "consents", ("consents",), ("subject",)),
    Read("portal", "/v1/subjects/{subject}/faces", "templates", ("templates",), ("subject",)),
    Read("reviewer", "/v1/subjects/{subject}/disclosures", "disclosures", ("disclosures",),
         ("subject",)),
]
PAGE_READS = [
    Read("reviewer", "/review", "/review",
         ("consent_ledger", "rights_requests", "incidents", "audit_events")),
    Read("reviewer", "/review/log?action=identify", "/review/log", ("audit_events",)),
    Read("reviewer", "/review/subjects/{subject}", "/review/subjects/{pseudonym}",
         ("audit_events",), ("subject",)),
    Read("reviewer", "/review/log.csv", "/review/log.csv", ("audit_events",)),
    Read("reviewer", "/review/erasures", "erasures", ("erasures",)),
    Read("reviewer", "/review/erasures.json", "erasures", ("erasures",)),
    Read("reviewer", "/review/erasures/{erased}", "erasure", ("erasure",), ("erased",)),
    Read("reviewer", "/review/download/ledger.json", "/review/download/ledger.json",
         ("consent_ledger",)),
    Read("reviewer", "/review/download/erasures.json", "/review/download/erasures.json",
         ("erasures",)),
    Read("reviewer", "/review/download/audit.json", "/review/download/audit.json",
         ("audit_events",)),
]


def _last_seq(service: OptinFace) -> int:
    with service.runtime.db.transaction() as session:
        return session.scalar(select(func.max(AuditEvent.seq))) or 0


def _chained_since(service: OptinFace, seq: int) -> list[AuditEvent]:
    with service.runtime.db.transaction() as session:
        rows = list(session.scalars(select(AuditEvent).where(AuditEvent.seq > seq)
                                    .order_by(AuditEvent.seq)))
        session.expunge_all()
        return rows


@pytest.fixture
def people(world: World) -> dict[str, str]:
    """A subject with a rights request, an erased one, and an incident on the register: every
    list an operator reads holds a row."""
    admin = auth(world.keys.admin)
    asked = world.client.post(f"/v1/subjects/{world.subject}/requests", headers=admin,
                              json={"kind": "access", "channel": "letter"})
    assert asked.status_code == 201, asked.text
    erased_pseudonym, _ = world.new_subject()
    erased = world.client.delete(f"/v1/subjects/{erased_pseudonym}", headers=admin)
    assert erased.status_code == 200, erased.text
    incident = world.client.post("/v1/incidents", headers=admin, json={
        "description": "A laptop was stolen", "circumstances": "From a car",
        "occurred_from": "2026-01-02T10:00:00+00:00",
        "became_aware_at": "2026-01-02T12:00:00+00:00", "data_categories": ["pseudonyms"],
        "risk_assessment": "Low: the disk was encrypted", "measures_taken": "Key revoked",
        "measures_suggested": "None"})
    assert incident.status_code == 201, incident.text
    return {"subject": world.subject, "erased": erased.json()["subject_hash"],
            "erased_pseudonym": erased_pseudonym}


def _secret(world: World, role: str) -> str:
    return world.subject_token if role == "subject" else str(getattr(world.keys, role))


def _read(world: World, service: OptinFace, read: Read, people: dict[str, str]) -> int:
    """Make the read as the browser or the client would (a page through a fresh session); the
    log's last sequence number before it."""
    path = read.path.format(**people)
    headers = {}
    if read.page:
        page_login(world.client, "review", _secret(world, read.role))
    else:
        headers = auth(_secret(world, read.role))
    before = _last_seq(service)
    answer = world.client.get(path, headers=headers)
    assert answer.status_code == 200, answer.text
    return before


@pytest.mark.parametrize("read", API_READS + PAGE_READS, ids=lambda r: f"{r.role}:{r.path}")
def test_each_operator_read_of_personal_data_chains_one_event(
    world: World, service: OptinFace, people: dict[str, str], read: Read
) -> None:
    """One ``audit_read`` per request, whatever the lists or pages it took: the reader's key,
    the view, the lists and their counts; a person the reader named among the subjects, no
    pseudonym in the details; and the chain still verifies."""
    reader = service.authenticate(_secret(world, read.role))
    [event] = _chained_since(service, _read(world, service, read, people))
    assert (event.action, event.actor_key_id, event.actor_role) == (
        "audit_read", reader.key_id, read.role)
    assert event.details["view"] == read.view
    assert tuple(event.details["lists"]) == read.lists
    assert event.details["returned"] == sum(event.details["lists"].values())
    assert event.subjects == [people[name] for name in read.names]
    said = json.dumps(event.details)
    assert people["subject"] not in said and people["erased_pseudonym"] not in said
    assert service.verify_audit().ok


def test_the_dashboard_names_each_list_it_showed_with_its_rows(
    world: World, service: OptinFace, people: dict[str, str]
) -> None:
    """The overview is one event, yet each list it read is named with the rows it returned
    (the researcher keys come from the log's ``key_created`` events)."""
    [event] = _chained_since(service, _read(world, service, PAGE_READS[0], people))
    reviewer = service.authenticate(world.keys.reviewer)
    assert event.details["lists"] == {
        "consent_ledger": len(service.consent_ledger(actor=reviewer).consents),
        "rights_requests": len(service.rights_requests(actor=reviewer)),
        "incidents": len(service.incidents(actor=reviewer)),
        "audit_events": service.audit_events(actor=reviewer, filters=AuditFilter(
            action=AuditAction.KEY_CREATED)).total,
    }
    assert min(event.details["lists"].values()) >= 1


def test_an_export_of_many_pages_is_still_one_event(
    world: World, service: OptinFace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The log's export is fetched a page at a time; the file is one read however many."""
    import optinface.api.auditfiles as auditfiles

    monkeypatch.setattr(auditfiles, "MAX_PAGE", 3)
    before = _last_seq(service)
    answer = world.client.get("/v1/audit/export", headers=auth(world.keys.reviewer))
    [event] = _chained_since(service, before)
    assert event.details["lists"] == {"audit_events": len(answer.json())} and before > 6


@pytest.mark.parametrize("path", [
    "/v1/subjects/{subject}", "/v1/subjects/{subject}/consents",
    "/v1/subjects/{subject}/faces", "/v1/subjects/{subject}/disclosures",
])
def test_a_subject_reading_their_own_record_chains_nothing(
    world: World, service: OptinFace, path: str
) -> None:
    """The person exercising their right of access is not someone else's access (X-ACC)."""
    before = _last_seq(service)
    answer = world.client.get(path.format(subject=world.subject),
                              headers=auth(world.subject_token))
    assert answer.status_code == 200, answer.text
    assert _chained_since(service, before) == []


@pytest.mark.parametrize("path", ["/review/download/register.json", "/review/searches"])
def test_a_page_of_no_personal_data_chains_nothing(
    world: World, service: OptinFace, path: str
) -> None:
    """The register and the search counts name no one: reading them adds nothing."""
    page_login(world.client, "review", world.keys.reviewer)
    before = _last_seq(service)
    assert world.client.get(path).status_code == 200
    assert _chained_since(service, before) == []


def test_a_desk_read_of_a_record_is_in_the_persons_export(
    world: World, service: OptinFace
) -> None:
    """The event names the person read, so their export tells them their record was read,
    by which key and when (not the lists of others)."""
    world.client.get(f"/v1/subjects/{world.subject}/consents", headers=auth(world.keys.portal))
    export = world.client.get(f"/v1/subjects/{world.subject}/export",
                              headers=auth(world.subject_token)).json()
    desk_key = service.authenticate(world.keys.portal).key_id
    assert [e for e in export["events"] if e["action"] == "audit_read"
            and e["actor_key_id"] == desk_key and e["details"]["view"] == "consents"]
