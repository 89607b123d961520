"""Disclosures over HTTP (BIPA 15(d)): an enumerated basis and a document, or a 4xx and nothing
recorded; the export to hand over; the recipients an erasure's receipt names (GDPR art. 19)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.api import World, assert_refused, auth, verify_receipt_file

pytestmark = pytest.mark.shared_deployment
WARRANT = {"recipient": "Montréal Police", "legal_basis": "warrant_subpoena",
           "document_reference": "2027-SW-0042", "recipient_country": "CA",
           "recipient_region": "Québec"}


def _url(world: World, subject: str | None = None) -> str:
    return f"/v1/subjects/{subject or world.subject}/disclosures"


def _listed(world: World) -> list[dict[str, Any]]:
    answer = world.client.get(_url(world), headers=auth(world.keys.reviewer))
    assert answer.status_code == 200, answer.text
    return list(answer.json())


def test_an_admin_discloses_under_a_warrant_and_the_subjects_export_shows_it(
    world: World,
) -> None:
    made = world.client.post(_url(world), json=WARRANT, headers=auth(world.keys.admin))
    assert made.status_code == 201, made.text
    disclosure, handed_over = made.json()["disclosure"], made.json()["handed_over"]
    assert {k: disclosure[k] for k in WARRANT} == WARRANT and disclosure["evidence"] is None
    assert handed_over["subject"]["pseudonym"] == world.subject
    assert not {"disclosures", "rights_requests", "searches", "events"} & set(handed_over)
    assert _listed(world) == [disclosure]
    export = world.client.get(f"/v1/subjects/{world.subject}/export",
                              headers=auth(world.subject_token))
    assert export.json()["disclosures"] == [disclosure]
    html = world.client.get(f"/v1/subjects/{world.subject}/export", params={"format": "html"},
                            headers={**auth(world.subject_token),
                                     "Accept-Language": "fr-CA,fr;q=0.9"}).text
    assert ("<b>Montréal Police :</b> le " in html
            and "sur le fondement de : un mandat ou une assignation (document 2027-SW-0042)"
            in html)
    assert ("<b>aucun :</b> personne ne reçoit vos données en règle générale ; seulement les"
            " communications ci-dessous") in html


def test_a_document_reference_is_written_as_the_document_writes_it_on_one_line(
    world: World,
) -> None:
    """A warrant's number is the court's, slashes and brackets included; a control character
    (here ESC, which can rewrite a terminal line) is refused."""
    for reference in ("2027/SW/42", "No. 12 (Cook Cty.)"):
        made = world.client.post(_url(world), json=WARRANT | {"document_reference": reference},
                                 headers=auth(world.keys.admin))
        assert made.status_code == 201, made.text
        assert made.json()["disclosure"]["document_reference"] == reference
    assert_refused(world.client.post(_url(world), json=WARRANT | {
        "document_reference": "2027/SW/42\x1b[2K"}, headers=auth(world.keys.admin)),
        422, "validation_error")
    assert sorted(d["document_reference"] for d in _listed(world)) == [
        "2027/SW/42", "No. 12 (Cook Cty.)"]


@pytest.mark.parametrize("change", [
    {"document_reference": None},  # missing
    {"document_reference": ""},
    {"document_reference": "x" * 201},
    {"document_reference": "line one\nline two"},
    {"recipient": ""},
    {"recipient": "Police\nand someone else"},
    {"recipient": "x" * 201},
    {"recipient_country": None},  # where the recipient is must be said
    {"recipient_country": "ca"},
    {"recipient_country": "CAN"},
    {"recipient_country": "ZZ"},  # no country has this code
    {"recipient_region": "Québec\nand elsewhere"},
    {"legal_basis": "curiosity"},
    {"legal_basis": "financial_txn"},
])
def test_a_disclosure_without_a_known_basis_or_a_one_line_recipient_and_reference_is_refused(
    world: World, change: dict[str, Any],
) -> None:
    body = {k: v for k, v in (WARRANT | change).items() if v is not None}
    assert_refused(world.client.post(_url(world), json=body, headers=auth(world.keys.admin)),
                   422, "validation_error")
    assert _listed(world) == []


def test_only_the_person_discloses_on_their_consent_signing_that_very_disclosure(
    world: World,
) -> None:
    on_consent = WARRANT | {"recipient": "Acme Bank", "legal_basis": "consent"}
    assert_refused(world.client.post(_url(world), json=on_consent,
                                     headers=auth(world.keys.admin)),
                   403, "subject_credential_required")
    assert _listed(world) == []
    signed = world.people[world.subject].sign({"act": "disclose", **on_consent})
    made = world.client.post(_url(world), json=on_consent | {"signed": signed},
                             headers=auth(world.subject_token))
    assert made.status_code == 201, made.text
    assert [d["recipient"] for d in _listed(world)] == ["Acme Bank"]


def test_a_disclosure_outside_quebec_without_the_controllers_assessment_is_a_409(
    world: World,
) -> None:
    abroad = WARRANT | {"recipient_country": "US", "recipient_region": "Illinois"}
    assert_refused(world.client.post(_url(world), json=abroad, headers=auth(world.keys.admin)),
                   409, "transfer_assessment_required")
    assert _listed(world) == []
    made = world.client.post(_url(world), json=abroad | {"transfer_assessment": "EFVP-2027-03"},
                             headers=auth(world.keys.admin))
    assert made.status_code == 201, made.text
    assert [(d["area_left"], d["transfer_assessment"]) for d in _listed(world)] == [
        ("Québec", "EFVP-2027-03")]


def test_a_disclosure_of_no_one_or_of_an_erased_subject_is_refused(world: World) -> None:
    assert_refused(world.client.post(_url(world, "subj_000000000000000000000000"), json=WARRANT,
                                     headers=auth(world.keys.admin)), 404, "not_found")
    world.client.delete(f"/v1/subjects/{world.subject}", headers=auth(world.keys.admin))
    assert_refused(world.client.post(_url(world), json=WARRANT,
                                     headers=auth(world.keys.admin)), 410, "subject_erased")


def test_the_erasure_receipt_names_whom_to_notify_and_still_verifies(
    world: World, tmp_path: Path
) -> None:
    for recipient in ("Sheriff B", "Agency A", "Sheriff B"):
        made = world.client.post(_url(world), json=WARRANT | {"recipient": recipient},
                                 headers=auth(world.keys.admin))
        assert made.status_code == 201, made.text
    erased = world.client.delete(f"/v1/subjects/{world.subject}",
                                 headers=auth(world.subject_token))
    assert erased.status_code == 200, erased.text
    receipt = erased.json()
    assert receipt["recipients_to_notify"] == ["Agency A", "Sheriff B"]
    assert receipt["signed"]["receipt"]["recipientsToNotify"] == ["Agency A", "Sheriff B"]
    path = tmp_path / "erasure.json"
    path.write_text(json.dumps(receipt["signed"]))
    public_key = receipt["signed"]["public_key"]
    assert verify_receipt_file(path, public_key).exit_code == 0
    receipt["signed"]["receipt"]["recipientsToNotify"] = ["Agency A"]  # one left out
    path.write_text(json.dumps(receipt["signed"]))
    assert verify_receipt_file(path, public_key).exit_code == 1
