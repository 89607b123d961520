"""What the reviewer's dashboard stands on: published keys, receipts that verify, SQL filters."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select, update

from optinface.api.csvfiles import FORMULA_STARTS
from optinface.api.web.i18n import Language
from optinface.api.web.reader_words import words_in
from optinface.consent.anomalies import REFUSALS
from optinface.consent.schemas import AuditFilter
from optinface.consent.service import OptinFace
from optinface.consent.tables import ApiKey, AuditEvent
from optinface.engine.pipeline import FacePipeline
from tests.support.api import (
    World,
    auth,
    declare_long_enough_ago,
    deployment,
    page_login,
    set_up_world,
    verify_receipt_file,
)

pytestmark = pytest.mark.shared_deployment

KEYS_URL = "/.well-known/optinface-keys.json"


def test_public_keys_are_published_at_a_stable_url_and_in_the_register(
    client: TestClient, world: World, service: OptinFace
) -> None:
    published = client.get(KEYS_URL)  # no credentials: anyone holding a receipt may check it
    assert published.status_code == 200
    key, checkpoints = published.json()["keys"]
    assert key["public_key"] == service.public_key and key["algorithm"] == "Ed25519"
    # The checkpoint key is separate and published with its note verifier key.
    assert checkpoints["verifier_key"] == service.runtime.log.signer.verifier.vkey
    assert checkpoints["public_key"] != key["public_key"]
    # The register names both, so a regulator holding it alone can check checkpoints too.
    register = client.get("/v1/register", headers=auth(world.keys.reviewer)).json()
    assert register["signing_keys"] == published.json()["keys"]
    markdown = client.get("/v1/register?format=md", headers=auth(world.keys.reviewer)).text
    assert key["public_key"] in markdown and checkpoints["public_key"] in markdown
    assert KEYS_URL in markdown


def test_the_regulators_side_states_the_transfers(client: TestClient, world: World) -> None:
    """Hosted in Québec (the test deployment), demo mode taking EU persons: their data leave
    the EEA, and no safeguard is stated; the page states the register's fields (region, the
    area left), in the reader's language."""
    page_login(client, "review", world.keys.reviewer)

    def transfers(language: str, label: str) -> str:
        page = client.get("/review", headers={"Accept-Language": language}).text
        return page.split(f">{label}</dt>")[1].split("</dd>")[0]

    english = transfers("en", "Transfers")
    assert "QC: none: hosted in CA (Québec)" in english
    assert ('EU: <span class="bad">transferred to CA (Québec), outside the EEA; no'
            " safeguard stated") in english
    french = transfers("fr", "Transferts")
    assert "QC : aucun : hébergement dans le pays CA (Québec)" in french
    assert ('EU : <span class="bad">transfert vers le pays CA (Québec), hors de'
            " l&#39;EEE ; aucune garantie indiquée") in french


def test_receipt_verify_accepts_the_erasures_download_and_refuses_one_tampered_row(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    erased = [world.subject]
    world.add_consenting_subject()
    erased.append(world.subject)
    for subject in erased:
        client.delete(f"/v1/subjects/{subject}", headers=auth(world.keys.admin))
    page_login(client, "review", world.keys.reviewer)
    download = client.get("/review/download/erasures.json")
    rows = download.json()
    assert len(rows) >= 2 and all(r["receipt_signature"] for r in rows)
    key = client.get(KEYS_URL).json()["keys"][0]["public_key"]
    path = tmp_path / "erasures.json"
    path.write_text(download.text)
    assert verify_receipt_file(path, key).exit_code == 0
    rows[-1]["receipt"]["templates_destroyed"] = 7
    path.write_text(json.dumps(rows))
    assert verify_receipt_file(path, key).exit_code == 1


def test_access_log_filters_by_outcome_and_pages_newest_first_in_sql(
    service: OptinFace, world: World
) -> None:
    reviewer = service.authenticate(world.keys.reviewer)
    everything = service.audit_events(actor=reviewer, filters=AuditFilter(), limit=1)
    newest = service.audit_events(actor=reviewer, filters=AuditFilter(), limit=3, newest_first=True)
    assert [e.seq for e in newest.events] == list(range(newest.total, newest.total - 3, -1))
    assert newest.total == everything.total + 1  # counted in SQL; the first read was logged
    world.client.get("/v1/purposes", headers=auth("not-a-key"))  # a refused login
    failures = service.audit_events(actor=reviewer, filters=AuditFilter(action="login_failure"))
    outcome = failures.events[-1].outcome
    assert outcome != "ok"
    refused = service.audit_events(actor=reviewer, filters=AuditFilter(outcome=outcome))
    assert 0 < refused.total < everything.total
    assert all(e.outcome == outcome for e in refused.events)
    mine = service.audit_events(actor=reviewer, filters=AuditFilter(subject=world.subject))
    assert mine.events and all(world.subject in e.subjects for e in mine.events)


def test_searches_are_counted_per_hour_and_purpose(
    service: OptinFace, world: World, portrait_jpegs: list[bytes]
) -> None:
    reviewer = service.authenticate(world.keys.reviewer)
    before = sum(c.searches for c in service.search_counts(actor=reviewer))
    world.enrol(world.subject, world.consent_id, portrait_jpegs[0])
    for image in portrait_jpegs[:2]:
        assert world.identify(image).status_code == 200
    counts = service.search_counts(actor=reviewer)
    assert sum(c.searches for c in counts) == before + 2
    assert {c.purpose for c in counts} == {world.purpose_id}
    assert all(len(c.hour) == len("2026-11-30T14") for c in counts)


def test_enumeration_alerts_are_for_reviewers_on_the_api_and_the_dashboard(
    client: TestClient, world: World, portrait_jpegs: list[bytes]
) -> None:
    prober = client.post("/v1/keys", headers=auth(world.keys.admin),
                         json={"role": "researcher", "name": "prober"}).json()
    for _ in range(REFUSALS):  # no probe consent: refused before any face is processed
        client.post("/v1/identify", headers=auth(prober["secret"]),
                    data={"purpose_id": world.purpose_id, "probe_consent_id": "prb_none"},
                    files={"image": ("p.jpg", portrait_jpegs[0], "image/jpeg")})
    assert client.get("/v1/audit/alerts", headers=auth(prober["secret"])).status_code == 403
    alerts = client.get("/v1/audit/alerts", headers=auth(world.keys.reviewer)).json()
    assert {"key_id": prober["key_id"], "kind": "repeated_refusals",
            "count": REFUSALS} in [{k: a[k] for k in ("key_id", "kind", "count")} for a in alerts]
    page_login(client, "review", world.keys.reviewer)
    section = client.get("/review").text.split('<section id="alerts">')[1].split("</section>")[0]
    assert f"{REFUSALS} of {REFUSALS} searches refused" in section
    assert "prober" in section and f"/review/log?actor={prober['key_id']}" in section


def test_break_glass_openings_are_for_reviewers_on_the_api_and_the_dashboard(
    client: TestClient, world: World, service: OptinFace
) -> None:
    """Each opening with its reason, key and the acts done under it, counted from the log: the
    key mints a proper admin key and revokes itself, two acts."""
    opened = service.open_break_glass(reason="INC-8: root key holder unreachable", hours=3)
    glass = auth(opened.secret)
    assert client.get("/v1/keys", headers=glass).status_code == 200  # read, not an audited act
    minted = client.post("/v1/keys", headers=glass, json={"role": "admin", "name": "new root"})
    client.delete(f"/v1/keys/{opened.key_id}", headers=glass)
    assert client.get("/v1/audit/break-glass",
                      headers=auth(world.keys.researcher)).status_code == 403
    for reader in (world.keys.reviewer, world.keys.admin):
        listed = client.get("/v1/audit/break-glass", headers=auth(reader)).json()
        [seen] = [o for o in listed if o["key_id"] == opened.key_id]
        assert seen["reason"] == "INC-8: root key holder unreachable" and seen["acts"] == 2
        assert seen["revoked_at"] is not None and seen["expires_at"] is not None
        assert seen["keys_created"] == [minted.json()["key_id"]]
    page_login(client, "review", world.keys.reviewer)
    [row] = [r for r in _break_glass_rows(client) if opened.key_id in r]
    assert "INC-8: root key holder unreachable" in row and minted.json()["key_id"] in row
    assert "<td>2</td><td>0</td>" in row  # two acts, none after its expiry


def _break_glass_rows(client: TestClient) -> list[str]:
    """The rows of the dashboard's break-glass table."""
    answer = client.get("/review")
    assert answer.status_code == 200, answer.text
    return answer.text.split('<section id="break-glass">')[1].split("</section>")[0].split(
        "<tr")[1:]


def test_an_opening_edited_past_reading_is_shown_as_such_and_the_dashboard_still_answers(
    tmp_path: Path, pipeline: FacePipeline
) -> None:
    """An operator who empties the opening's details breaks the chain, which the dashboard
    says; the break-glass table must not take the page down with it."""
    with deployment(tmp_path, pipeline) as (_, service, client, keys):
        opened = service.open_break_glass(reason="INC-9: edited after", hours=1)
        with service.runtime.db.transaction() as session:
            seq = session.scalar(select(AuditEvent.seq).where(
                AuditEvent.action == "break_glass_opened"))
            session.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(details={}))
        page_login(client, "review", keys.reviewer)
        rows = _break_glass_rows(client)
        listed = client.get("/v1/audit/break-glass", headers=auth(keys.reviewer)).json()
    assert not [r for r in rows if opened.key_id in r]
    assert [r for r in rows if f"Event {seq}: an opening whose details cannot be read" in r]
    assert listed == [{**listed[0], "seq": seq, "readable": False, "key_id": None}]


def test_the_logs_time_filters_compare_instants_whatever_their_offset(
    client: TestClient, world: World
) -> None:
    """``at`` is kept as UTC text; a bound written at another offset was compared with it as
    text, so a window around an event, written in Toronto's offset, found nothing."""
    headers = auth(world.keys.reviewer)
    first = client.get("/v1/audit/events", params={"limit": 1}, headers=headers).json()
    event = first["events"][0]
    at = datetime.fromisoformat(event["at"])
    east, west = timezone(timedelta(hours=5)), timezone(timedelta(hours=-5))

    def seqs(**bounds: datetime) -> list[int]:
        params = {"action": event["action"], **{k: v.isoformat() for k, v in bounds.items()}}
        answer = client.get("/v1/audit/events", params=params, headers=headers)
        return [e["seq"] for e in answer.json()["events"]]

    second = timedelta(seconds=1)
    assert event["seq"] in seqs(since=(at - second).astimezone(east),
                                until=(at + second).astimezone(west))
    assert event["seq"] not in seqs(until=at.astimezone(west))  # exclusive, at any offset
    assert event["seq"] not in seqs(since=(at + second).astimezone(west))
    # A range written backwards (at any offsets) would select nothing: refused, as on the pages.
    backwards = client.get("/v1/audit/events", headers=headers, params={
        "since": (at + second).astimezone(east).isoformat(),
        "until": at.astimezone(west).isoformat()})
    assert backwards.status_code == 422 and backwards.json()["code"] == "invalid_request"


def test_the_service_takes_only_log_bounds_it_can_compare_in_utc() -> None:
    """Year 1 at UTC+14 has no UTC time: a caller of the service gets the refusal."""
    with pytest.raises(ValidationError, match=r"from 1970-01-01T00:00:00\+00:00 and before 3000"):
        AuditFilter(until=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))))


@pytest.mark.parametrize("bound", [
    {"since": "bad"},
    {"since": "2026-11-30T21:36:00"},  # no offset: which instant is meant cannot be known
    {"until": "0001-01-01T00:00:00+14:00"},
    {"until": "9999-12-31T23:59:59-14:00"},
])
@pytest.mark.parametrize("path", ["/v1/audit/events", "/v1/audit/export"])
def test_a_time_filter_that_is_not_an_instant_in_the_span_is_refused(
    client: TestClient, world: World, path: str, bound: dict[str, str]
) -> None:
    answer = client.get(path, params=bound, headers=auth(world.keys.reviewer))
    assert answer.status_code == 422 and answer.json()["code"] == "validation_error", answer.text


def test_a_broken_chain_is_shown_with_the_checks_own_words(
    tmp_path: Path, pipeline: FacePipeline,
) -> None:
    """The dashboard says where the log broke and what the check found (an edit, a deletion, a
    rollback by a restore), not only that it broke."""
    with deployment(tmp_path, pipeline) as (_, service, client, keys):
        set_up_world(client, keys)
        with service.runtime.db.engine.begin() as connection:
            connection.exec_driver_sql("UPDATE audit_events SET outcome = 'x' WHERE seq = 2")
        page_login(client, "review", keys.reviewer)
        page = client.get("/review").text
    assert "BROKEN at event 2" in page and "event 2 differs from its hash (edited)" in page


def test_a_purpose_name_cannot_run_as_a_formula_in_the_reviewers_spreadsheet(
    tmp_path: Path, pipeline: FacePipeline, portrait_jpegs: list[bytes]
) -> None:
    """The operator names the purposes and the reviewer opens the file: a name that begins like
    a formula reaches the spreadsheet as text (OWASP's CSV injection)."""
    formula = '=HYPERLINK("http://evil.example","click")'
    with deployment(tmp_path, pipeline) as (_, _, client, keys):
        world = set_up_world(client, keys, declare=False)
        made = client.post("/v1/purposes", headers=auth(keys.admin), json={
            "name": formula, "description": "A study whose name is a formula",
            "legal_basis": "express consent (LCCJTI art. 44)", "operations": ["identify"],
            "retention_days": 30, "study": "F"})
        assert made.status_code == 201, made.text
        declare_long_enough_ago(client, keys)
        world = replace(world, purpose_id=made.json()["id"])
        assert world.identify(portrait_jpegs[0]).status_code == 200
        page_login(client, "review", keys.reviewer)
        answer = client.get("/review/searches.csv")
    assert answer.status_code == 200
    cells = [cell for row in csv.reader(io.StringIO(answer.text)) for cell in row]
    assert f"'{formula}" in cells
    assert not [cell for cell in cells if cell.startswith(FORMULA_STARTS)]


@pytest.mark.parametrize("route", ["/v1/audit/export?format=csv", "/review/log.csv",
                                   "/review/download/audit.csv"])
def test_a_purpose_id_sent_like_a_formula_reaches_every_audit_csv_as_text(
    world: World, portrait_jpegs: list[bytes], route: str
) -> None:
    """A researcher's refused search keeps the ``purpose_id`` they sent in the log: each CSV of
    the log writes it so that the reviewer's spreadsheet shows it, never computes it."""
    formula = "-A1-B1"
    refused = world.client.post(
        "/v1/identify", data={"purpose_id": formula, "probe_consent_id": "pc_none", "k": "5"},
        files={"image": ("probe.jpg", portrait_jpegs[0], "image/jpeg")},
        headers=auth(world.keys.researcher))
    assert refused.status_code == 404, refused.text
    if route.startswith("/review"):
        page_login(world.client, "review", world.keys.reviewer)
        answer = world.client.get(route)
    else:
        answer = world.client.get(route, headers=auth(world.keys.reviewer))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    cells = [cell for row in csv.reader(io.StringIO(answer.text)) for cell in row]
    assert f"'{formula}" in cells
    assert not [cell for cell in cells if cell.startswith(FORMULA_STARTS)]


def test_the_dashboards_researcher_keys_mark_each_revoked_key_with_its_time(
    client: TestClient, world: World, service: OptinFace
) -> None:
    """The table lists every key that may search: a revoked one says so, and since when, as
    authentication reads it: one revoked without an audit event (plain SQL here, a restore's
    replay in practice) is marked too."""
    admin = auth(world.keys.admin)
    made = [client.post("/v1/keys", headers=admin,
                        json={"role": "researcher", "name": name}).json()
            for name in ("kept lab", "gone lab", "quietly gone lab")]
    client.delete(f"/v1/keys/{made[1]['key_id']}", headers=admin)
    with service.runtime.db.transaction() as session:
        session.execute(update(ApiKey).where(ApiKey.id == made[2]["key_id"]).values(
            revoked_at=datetime.now(UTC)))
    page_login(client, "review", world.keys.reviewer)
    section = client.get("/review").text.split('<section id="researcher-keys">')[1].split(
        "</section>")[0]
    [kept, gone, quietly] = [next(r for r in section.split("<tr") if key["key_id"] in r)
                             for key in made]
    assert "still valid" in kept and "<strong>" not in kept
    for revoked in (gone, quietly):
        assert "<strong>" in revoked and "still valid" not in revoked, revoked


def test_the_dashboards_researcher_keys_say_when_they_were_made_in_the_deployments_time(
    client: TestClient, world: World
) -> None:
    """Every time on the dashboard is in OPTINFACE_TIMEZONE (``docs/settings.md``), a key's
    creation too: the same words as the revocation next to it, never the log's UTC text."""
    made = client.post("/v1/keys", headers=auth(world.keys.admin),
                       json={"role": "researcher", "name": "timed lab"}).json()
    [event] = [e for e in client.get("/v1/audit/events", headers=auth(world.keys.reviewer),
                                     params={"action": "key_created"}).json()["events"]
               if e["details"]["key_id"] == made["key_id"]]
    page_login(client, "review", world.keys.reviewer)
    for language in Language:
        page = client.get("/review", headers={"Accept-Language": language.value}).text
        section = page.split('<section id="researcher-keys">')[1].split("</section>")[0]
        row = next(r for r in section.split("<tr") if made["key_id"] in r)
        created = words_in(language, client.app.state.settings).when(event["at"])
        assert f"<td>{created}</td>" in row, row
        assert event["at"][:16] not in row


def test_the_regulators_side_states_the_settings_that_bound_a_promise(
    client: TestClient, world: World
) -> None:
    """The register's promise bounds (red team 4, #3) on the dashboard too, each setting with
    its value in force and what it bounds, in the reader's language."""
    page_login(client, "review", world.keys.reviewer)
    register = client.get("/v1/register", headers=auth(world.keys.reviewer)).json()
    stated = {bound["setting"]: bound["value"] for bound in register["promise_bounds"]}

    def bounds(language: str, label: str) -> dict[str, str]:
        page = client.get("/review", headers={"Accept-Language": language}).text
        return dict(re.findall(rf'<td data-label="[^"]+"><code>(OPTINFACE_[A-Z_]+)</code></td>'
                               rf'<td data-label="{label}">([^<]*)</td>', page))

    english = bounds("en", "Value in force")
    assert set(english) == {"OPTINFACE_KEY_EPOCH_HOURS", "OPTINFACE_AUDIT_WITNESS_INTERVAL_SECONDS",
                            "OPTINFACE_AUDIT_CHECKPOINT_EVERY", "OPTINFACE_IDENTIFY_DAILY_QUOTA"}
    assert english["OPTINFACE_AUDIT_CHECKPOINT_EVERY"] == str(
        stated["OPTINFACE_AUDIT_CHECKPOINT_EVERY"])
    assert set(bounds("fr", "Valeur en vigueur")) == set(english)
    french = client.get("/review", headers={"Accept-Language": "fr"}).text
    assert "Paramètres qui bornent un engagement" in french


def test_a_regulators_order_reads_its_kind_in_the_readers_language(
    tmp_path: Path, pipeline: FacePipeline
) -> None:
    """A suspension and a destruction, on the dashboard in French: their kind in words too."""
    with deployment(tmp_path, pipeline) as (_, _, client, keys):
        for reference, destroy in (("CAI-2026-1", False), ("CAI-2026-2", True)):
            answer = client.post("/v1/register/orders", headers=auth(keys.admin),
                                 json={"reference": reference, "destroy": destroy})
            assert answer.status_code == 200, answer.text
        page_login(client, "review", keys.reviewer)

        def kinds(language: str, label: str) -> list[str]:
            page = client.get("/review", headers={"Accept-Language": language}).text
            return re.findall(rf'<td data-label="{label}">([^<]*)</td>', page)

        assert sorted(kinds("en", "Kind")) == ["destroy", "suspend"]
        assert sorted(kinds("fr", "Type")) == ["suspension", "suspension et destruction des"
                                                              " gabarits"]


def test_the_erasures_pages_state_the_templates_each_receipt_destroyed_and_count_in_words(
    tmp_path: Path, pipeline: FacePipeline, portrait_jpegs: list[bytes]
) -> None:
    """The month's list and the receipt's page read ``destroyed.templates``, where the signed
    receipt states it (they were blank); the month's count takes the reader's plural."""
    with deployment(tmp_path, pipeline) as (_, _, client, keys):
        world = set_up_world(client, keys)
        world.enrol(world.subject, world.consent_id, portrait_jpegs[0])
        erased = client.delete(f"/v1/subjects/{world.subject}", headers=auth(keys.admin))
        assert erased.status_code == 200, erased.text
        subject_hash = erased.json()["subject_hash"]
        assert erased.json()["signed"]["receipt"]["destroyed"]["templates"] == 1
        page_login(client, "review", keys.reviewer)
        listed = client.get("/review/erasures").text
        row = listed.split(f"{subject_hash[:16]}…")[1].split("</tr>")[0]
        assert '<td data-label="Templates destroyed">1</td>' in row, row
        assert "<h2>1 erasure</h2>" in listed
        shown = client.get(f"/review/erasures/{subject_hash}").text
        assert "<dt>Templates destroyed</dt><dd>1</dd>" in shown, shown
        french = client.get("/review/erasures", headers={"Accept-Language": "fr"}).text
        assert "<h2>1 effacement</h2>" in french
