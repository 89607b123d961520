"""The HTTP contract, route by route, as a subject, a researcher, a reviewer and an admin use it."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from optinface.api.app import create_app
from optinface.api.settings import ApiSettings
from optinface.consent.passkeys import verify_evidence
from optinface.consent.service import OptinFace
from optinface.engine.samples import encode, group_photo
from tests.support.api import World, auth, in_a_year, verify_receipt_file
from tests.support.backends import on_both_backends
from tests.support.consent import drop_triggers, keep_deleted_rows, keep_updated_rows
from tests.support.erasures import HeldAtJournal, held_race

pytestmark = [pytest.mark.shared_deployment, on_both_backends]

CANDIDATE_KEYS = {"subject", "score", "review_id", "status"}
"""All a candidate says: a pseudonym and a rounded score to review, never an image, a
template or an embedding (P-39.1 s. 9.1, GDPR art. 5(1)(c))."""


def test_purposes_and_notices_are_listed_with_the_notice_hash(world: World) -> None:
    purposes = world.client.get("/v1/purposes", headers=auth(world.keys.researcher))
    assert world.purpose_id in [p["id"] for p in purposes.json()]
    notices = world.client.get("/v1/notices", headers=auth(world.keys.portal)).json()
    assert len(notices[0]["sha256"]) == 64


def test_subject_token_reads_its_own_subject_and_consents(world: World) -> None:
    token = auth(world.subject_token)
    assert (
        world.client.get(f"/v1/subjects/{world.subject}", headers=token).json()["pseudonym"]
        == world.subject
    )
    consents = world.client.get(f"/v1/subjects/{world.subject}/consents", headers=token).json()
    assert [c["id"] for c in consents] == [world.consent_id]
    assert consents[0]["status"] == "active"


def test_consent_answer_holds_a_receipt_signed_by_the_controller_and_the_person(
    world: World,
) -> None:
    subject, _ = world.new_subject()
    given = world.people[subject].consent(
        purposes=[world.purpose_id], notice_id=world.notice_id, expires_at=in_a_year())
    assert given["receipt"]["signature"] and given["receipt"]["public_key"]
    evidence = given["receipt"]["receipt"]["subjectSignature"]
    assert evidence["statement"]["subject"] == subject
    assert verify_evidence(evidence)


def test_a_real_consent_receipt_verifies_offline_until_a_signed_field_is_changed(
    world: World, service: OptinFace, tmp_path: Path
) -> None:
    """``optinface receipt verify`` on the receipt a consent answers with: valid as given,
    INVALID once its purposes, its notice hash or its expiry is edited; and the notice hash it
    names is the SHA-256 of the notice's text as published."""
    subject, _ = world.new_subject()
    given = world.people[subject].consent(
        purposes=[world.purpose_id], notice_id=world.notice_id, expires_at=in_a_year())
    path = tmp_path / "consent.json"
    path.write_text(json.dumps(given["receipt"]))
    assert verify_receipt_file(path, service.public_key).exit_code == 0
    edits: list[Callable[[dict[str, Any]], None]] = [
        lambda r: r["services"][0]["purposes"][0].update(purposeId="pur_other"),
        lambda r: r["notice"].update(sha256="0" * 64),
        lambda r: r.update(expiresISO="2099-01-01T00:00:00+00:00"),
    ]
    for edit in edits:
        tampered = json.loads(json.dumps(given["receipt"]))
        edit(tampered["receipt"])
        path.write_text(json.dumps(tampered))
        assert verify_receipt_file(path, service.public_key).exit_code == 1
    [notice] = [n for n in world.client.get("/v1/notices", headers=auth(world.keys.portal)).json()
                if n["id"] == world.notice_id]
    named = given["receipt"]["receipt"]["notice"]["sha256"]
    assert hashlib.sha256(notice["text"].encode()).hexdigest() == notice["sha256"] == named


def test_identify_finds_the_enrolled_subject_and_states_threshold_fmr_model(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    body = world.enrolled_and_identified(portrait_jpegs[0]).json()
    assert body["outcome"] == "candidates_for_review"
    assert body["candidates"][0]["subject"] == world.subject
    assert body["candidates"][0].keys() == CANDIDATE_KEYS
    assert {"threshold", "fmr", "model_id"} <= body.keys()


def test_the_register_and_privacy_state_the_operating_point_an_identify_applies(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """G-08, L-05: the register's operating point is the one a search answers with (model,
    rate, threshold, its false non-match rate, verifiers for a 1:N candidate), and /privacy
    tells the public the same point."""
    body = world.enrolled_and_identified(portrait_jpegs[0]).json()
    point = world.client.get("/v1/register", headers=auth(world.keys.reviewer)).json()["accuracy"]
    searched = ("model_id", "fmr", "threshold", "fnmr")
    assert {k: point[k] for k in searched} == {k: body[k] for k in searched}
    assert point["confirmations_required"]["identify"] == body["confirmations_required"] == 2
    assert point["outcomes"] == ["candidates_for_review", "no_candidate"]
    assert point["searcher_may_confirm"] is False
    assert world.client.get("/privacy.json").json()["accuracy"] == point


def test_no_candidate_is_an_ordinary_200_answer(world: World, portrait_jpegs: list[bytes]) -> None:
    world.enrol(world.subject, world.consent_id, portrait_jpegs[0])
    answer = world.identify(portrait_jpegs[3])
    assert answer.status_code == 200
    assert answer.json()["outcome"] == "no_candidate"
    assert answer.json()["candidates"] == []


def test_verify_one_to_one(world: World, portrait_jpegs: list[bytes]) -> None:
    world.enrol(world.subject, world.consent_id, portrait_jpegs[1])
    answer = world.client.post(
        "/v1/verify",
        data={
            "subject": world.subject,
            "purpose_id": world.purpose_id,
            "probe_consent_id": world.probe_consent(portrait_jpegs[1], subject=world.subject),
        },
        files={"image": ("p.jpg", portrait_jpegs[1], "image/jpeg")},
        headers=auth(world.keys.researcher),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "candidates_for_review"
    [candidate] = answer.json()["candidates"]
    assert candidate.keys() == CANDIDATE_KEYS


def test_withdrawal_takes_effect_at_once(world: World, portrait_jpegs: list[bytes]) -> None:
    world.enrol(world.subject, world.consent_id, portrait_jpegs[0])
    withdrawn = world.people[world.subject].withdraw(world.consent_id)
    assert withdrawn["subject_erased"]
    assert world.identify(portrait_jpegs[0]).json()["outcome"] == "no_candidate"


def test_export_in_json_markdown_and_html(world: World) -> None:
    url = f"/v1/subjects/{world.subject}/export"
    token = auth(world.subject_token)
    assert world.client.get(url, headers=token).json()["subject"]["pseudonym"] == world.subject
    markdown = world.client.get(url, params={"format": "md"}, headers=token)
    assert markdown.headers["content-type"].startswith("text/markdown")
    html = world.client.get(url, params={"format": "html"}, headers=token)
    assert html.headers["content-type"].startswith("text/html")
    assert world.subject in html.text


def test_the_subject_may_export_three_times_a_day_under_the_default_limits(
    world: World, api_settings: ApiSettings, service: OptinFace
) -> None:
    """No frequency limit on the right of access: with the deployment's default rate limits,
    three exports the same day are all served, and each is on the subject's record."""
    defaults = ApiSettings.model_fields
    usual = api_settings.model_copy(update={
        "rate_per_second": defaults["rate_per_second"].default,
        "rate_burst": defaults["rate_burst"].default})
    with TestClient(create_app(usual, service=service)) as client:
        answers = [client.get(f"/v1/subjects/{world.subject}/export",
                              headers=auth(world.subject_token)) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [e["action"] for e in answers[2].json()["events"]].count("export") == 3


def test_erasure_returns_a_signed_receipt_and_the_subject_is_gone(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    world.enrol(world.subject, world.consent_id, portrait_jpegs[0])
    erased = world.client.delete(f"/v1/subjects/{world.subject}", headers=auth(world.keys.admin))
    assert erased.status_code == 200, erased.text
    assert erased.json()["signed"]["signature"]
    assert world.identify(portrait_jpegs[0]).json()["outcome"] == "no_candidate"
    again = world.client.get(f"/v1/subjects/{world.subject}", headers=auth(world.keys.portal))
    assert again.status_code in (404, 410)


def test_a_delete_whose_rows_a_trigger_keeps_answers_503_and_signs_nothing_until_it_goes(
    world: World, service: OptinFace, portrait_jpegs: list[bytes]
) -> None:
    """Red team 5, F3: the DELETE answered 200 with a receipt saying the template and key were
    destroyed while a trigger kept them. Now 503 erasure_unfinished, naming the tables that
    kept rows; the subject is found by no search; once the trigger is dropped the same request
    finishes the erasure with its receipt."""
    world.enrol(world.subject, world.consent_id, portrait_jpegs[0])
    url = f"/v1/subjects/{world.subject}"
    keep_deleted_rows(service, "templates")
    try:
        kept = world.client.delete(url, headers=auth(world.keys.admin))
        assert kept.status_code == 503, kept.text
        assert kept.json()["code"] == "erasure_unfinished"
        assert kept.json()["details"] == {"kept": ["templates"]}
        assert world.identify(portrait_jpegs[0]).json()["outcome"] == "no_candidate"
    finally:
        drop_triggers(service, "templates")
    erased = world.client.delete(url, headers=auth(world.keys.admin))
    assert erased.status_code == 200, erased.text
    assert erased.json()["signed"]["receipt"]["destroyed"]["templates"] == 1


def test_a_withdrawal_a_trigger_undoes_answers_503_and_not_withdrawn_until_it_goes(
    world: World, service: OptinFace
) -> None:
    """A trigger that keeps the consent's row as it was: the person's signed withdrawal is
    answered 503 write_unfinished (the table named), never 200 with a receipt; once the
    trigger is dropped the same withdrawal holds."""
    person = world.people[world.subject]
    url = f"/v1/subjects/{world.subject}/consents/{world.consent_id}/withdraw"
    keep_updated_rows(service, "consents", "status", "withdrawn_at")
    try:
        signed = person.sign({"act": "withdraw", "consent_id": world.consent_id})
        undone = world.client.post(url, json=signed, headers=person.headers)
        assert undone.status_code == 503, undone.text
        assert undone.json()["code"] == "write_unfinished"
        assert undone.json()["details"] == {"kept": ["consents"]}
    finally:
        drop_triggers(service, "consents")
    assert person.withdraw(world.consent_id)["subject_erased"]


def test_a_delete_that_lost_the_race_answers_200_with_the_other_erasures_receipt(
    world: World, portrait_jpegs: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two DELETEs of one subject at once, the person's own and the admin's, each held past
    its exclusion; the admin's destroys first. The person's, which then finds the tombstone,
    answers 200 with that erasure's signed receipt (not 410: it found the subject, who is
    erased as asked), and the log shows the request that lost, by the tombstone hash."""
    world.enrol(world.subject, world.consent_id, portrait_jpegs[0])
    url = f"/v1/subjects/{world.subject}"
    lost, won = held_race(
        HeldAtJournal(monkeypatch),
        lambda: world.client.delete(url, headers=auth(world.subject_token)),
        lambda: world.client.delete(url, headers=auth(world.keys.admin)), one_first=False)
    assert (lost.status_code, won.status_code) == (200, 200), lost.text
    assert lost.json()["signed"] == won.json()["signed"]
    receipt_id = won.json()["signed"]["receipt"]["receiptID"]
    events = world.client.get("/v1/audit/events", params={"action": "erase_already_done"},
                              headers=auth(world.keys.reviewer)).json()["events"]
    [done] = [e for e in events if e["details"]["receipt_id"] == receipt_id]
    assert (done["actor_role"], done["subjects"]) == ("subject", [won.json()["subject_hash"]])
    assert world.client.get("/v1/audit/verify", headers=auth(world.keys.reviewer)).json()["ok"]


def test_audit_events_filters_paging_and_chain_status(world: World) -> None:
    reviewer = auth(world.keys.reviewer)
    page = world.client.get("/v1/audit/events", params={"limit": 2}, headers=reviewer).json()
    assert len(page["events"]) == 2 and page["total"] > 2
    only = world.client.get(
        "/v1/audit/events", params={"subject": world.subject}, headers=reviewer
    ).json()
    assert all(world.subject in e["subjects"] for e in only["events"])
    assert world.client.get("/v1/audit/verify", headers=reviewer).json()["ok"] is True
    checkpoint = world.client.post("/v1/audit/checkpoints", headers=reviewer)
    assert checkpoint.status_code == 200 and checkpoint.json()["note"]
    size = checkpoint.json()["tree_size"]
    proof = world.client.get("/v1/audit/consistency", params={"first": 1, "second": size},
                             headers=reviewer)
    assert proof.status_code == 200 and proof.json()["second_size"] == size
    beyond = world.client.get("/v1/audit/consistency", params={"first": size + 5},
                              headers=reviewer)
    assert beyond.status_code == 422 and beyond.json()["code"] == "invalid_request"
    backwards = world.client.get("/v1/audit/consistency", params={"first": 5, "second": 1},
                                 headers=reviewer)
    assert backwards.status_code == 422  # the message names the rule, not a wrong log size
    assert "between 1 and the second" in backwards.json()["message"]


def test_a_consistency_proof_is_refused_from_an_empty_log(world: World) -> None:
    """A proof from size 0 proves nothing (every log extends the empty one; RFC 9162 proves
    0 < first), and every checkpoint holds its own event: the first size is at least 1, as the
    refusal of a backwards pair says."""
    answer = world.client.get("/v1/audit/consistency", params={"first": 0},
                              headers=auth(world.keys.reviewer))
    assert answer.status_code == 422 and answer.json()["code"] == "validation_error", answer.text
    [problem] = answer.json()["details"]["errors"]
    assert problem["loc"] == ["query", "first"] and problem["type"] == "greater_than_equal"


def test_audit_export_csv_and_json_hold_every_event(world: World) -> None:
    reviewer = auth(world.keys.reviewer)
    total = world.client.get("/v1/audit/events", headers=reviewer).json()["total"]
    saved = world.client.get("/v1/audit/export", headers=reviewer)
    as_json = saved.json()
    as_csv = world.client.get("/v1/audit/export", params={"format": "csv"}, headers=reviewer)
    for response, name in ((saved, "audit.json"), (as_csv, "audit.csv")):
        assert response.headers["content-disposition"] == f'attachment; filename="{name}"'
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    # Each read is itself logged, so the CSV taken after the JSON holds that read too.
    assert len(rows) > len(as_json) >= total
    assert rows[len(as_json)]["action"] == "audit_read"


def test_register_json_markdown_and_ledger_views(world: World) -> None:
    reviewer = auth(world.keys.reviewer)
    register = world.client.get("/v1/register", headers=reviewer).json()
    assert register["declaration"]["reference"] == "CAI-2026-001"
    markdown = world.client.get("/v1/register", params={"format": "md"}, headers=reviewer)
    assert "CAI-2026-001" in markdown.text
    ledger = world.client.get("/v1/ledger", headers=reviewer).json()
    assert world.consent_id in [c["id"] for c in ledger["consents"]]
    assert ledger["by_status"]["active"] >= 1
    before = len(world.client.get("/v1/erasures", headers=reviewer).json())
    world.client.delete(f"/v1/subjects/{world.subject}", headers=auth(world.keys.admin))
    erasures = world.client.get("/v1/erasures", headers=reviewer).json()
    assert len(erasures) == before + 1 and erasures[-1]["receipt_signature"]


def test_sweep_runs_on_demand(world: World) -> None:
    report = world.client.post("/v1/sweep", headers=auth(world.keys.admin))
    assert report.status_code == 200 and report.json()["erasures"] == []


def test_keys_are_created_listed_and_revoked(world: World) -> None:
    admin = auth(world.keys.admin)
    made = world.client.post(
        "/v1/keys", json={"role": "researcher", "name": "lab 2"}, headers=admin
    )
    assert made.status_code == 201
    key = made.json()
    assert key["key_id"] in [
        k["key_id"] for k in world.client.get("/v1/keys", headers=admin).json()
    ]
    assert world.client.delete(f"/v1/keys/{key['key_id']}", headers=admin).status_code == 204
    refused = world.client.get("/v1/purposes", headers=auth(key["secret"]))
    assert refused.status_code == 401


def test_a_key_used_then_revoked_is_refused_at_its_next_request(world: World) -> None:
    admin = auth(world.keys.admin)
    key = world.client.post("/v1/keys", json={"role": "researcher", "name": "lab 3"},
                            headers=admin).json()
    used = [world.client.get("/v1/purposes", headers=auth(key["secret"])) for _ in range(2)]
    assert [answer.status_code for answer in used] == [200, 200]
    assert world.client.delete(f"/v1/keys/{key['key_id']}", headers=admin).status_code == 204
    refused = world.client.get("/v1/purposes", headers=auth(key["secret"]))
    assert refused.status_code == 401 and refused.json()["code"] == "unauthenticated"


def test_searchable_opt_in_is_the_subjects_signed_choice_and_audited(world: World) -> None:
    assert world.people[world.subject].set_searchable(False)["searchable"] is False
    export = world.client.get(f"/v1/subjects/{world.subject}/export",
                              headers=auth(world.subject_token)).json()
    choices = [e["details"]["searchable"] for e in export["events"]
               if e["action"] == "subject_updated"]
    assert choices == [True, False]  # both signed choices, visible to the subject
    assert export["subject"]["searchable"] is False


def test_searchable_off_takes_the_subject_out_of_the_next_search_without_erasing(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """The subject's signed ``searchable: false`` hides them from the very next 1:N search;
    their template stays, so switching back on finds them again with no new enrolment."""
    person, image = world.people[world.subject], portrait_jpegs[0]
    template = world.enrol(world.subject, world.consent_id, image)

    def found() -> list[str]:
        answer = world.identify(image)
        assert answer.status_code == 200, answer.text
        return [c["subject"] for c in answer.json()["candidates"]]

    def templates() -> list[object]:
        export = world.client.get(f"/v1/subjects/{world.subject}/export",
                                  headers=auth(world.subject_token))
        return [t["id"] for t in export.json()["templates"]]

    assert found() == [world.subject]
    person.set_searchable(False)
    assert found() == []
    assert templates() == [template["id"]]
    person.set_searchable(True)
    assert found() == [world.subject]


def test_a_new_subject_is_not_searchable(world: World) -> None:
    _, answer = world.new_person()
    assert answer["subject"]["searchable"] is False


def test_health_needs_no_auth_and_names_models_and_providers(world: World) -> None:
    health = world.client.get("/healthz").json()
    assert health["status"] == "ok"
    assert set(health["models"]) == {"scrfd_500m_bnkps", "w600k_mbf"}
    assert "CPUExecutionProvider" in health["active_providers"]["recognizer"]


def test_a_group_photo_is_refused_so_no_bystander_is_enrolled(world: World) -> None:
    group = encode(group_photo())
    capture = world.people[world.subject].approve_capture(world.consent_id, group,
                                                          desk=world.keys.portal)
    refused = world.client.post(
        f"/v1/subjects/{world.subject}/faces",
        data={"capture_id": capture},
        files={"image": ("g.jpg", group, "image/jpeg")},
        headers=auth(world.keys.portal),
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "multiple_faces"
