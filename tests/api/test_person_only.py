"""Consent only the person can give (issue 11): every shortcut an operator had is refused.

Each test tries, over HTTP, what an admin, desk (portal), researcher or minor could do before,
and checks its 403 and stable code; then that the person's own passkey still does it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx2
import pytest

from optinface.api.soft_person import SoftPersonFailed, probe_consent
from optinface.consent.service import OptinFace
from optinface.consent.soft_authenticator import SoftAuthenticator
from optinface.engine.pipeline import FacePipeline
from tests.support.api import (
    ORIGIN,
    World,
    assert_refused,
    auth,
    deployment,
    in_a_year,
    operators,
    page_login,
    portal_session,
    set_up_world,
    verify_receipt_file,
)

pytestmark = pytest.mark.shared_deployment


def test_an_operator_key_cannot_give_consent_in_a_subjects_name(world: World) -> None:
    signed = world.people[world.subject].sign(world.consent_act())
    old_style = {"purposes": [world.purpose_id], "notice_id": world.notice_id, "language": "en",
                 "method": "e_signature", "evidence": "anything", "expires_at": in_a_year()}
    for key in operators(world):
        for body in (old_style, signed):
            assert_refused(world.client.post(f"/v1/subjects/{world.subject}/consents", json=body,
                                             headers=auth(key)), 403, "subject_credential_required")
        assert_refused(world.client.post(f"/v1/subjects/{world.subject}/challenges",
                                         json=world.consent_act(),
                                         headers=auth(key)), 403, "subject_credential_required")


def test_an_operator_key_cannot_withdraw_for_the_subject(world: World) -> None:
    url = f"/v1/subjects/{world.subject}/consents/{world.consent_id}/withdraw"
    signed = world.people[world.subject].sign({"act": "withdraw",
                                               "consent_id": world.consent_id})
    for key in operators(world):
        assert_refused(world.client.post(url, json=signed, headers=auth(key)), 403,
                       "subject_credential_required")
    assert world.people[world.subject].withdraw(world.consent_id)["consent"]["status"] == (
        "withdrawn")


def test_an_operator_key_cannot_enrol_a_photo_the_subject_did_not_approve(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    url = f"/v1/subjects/{world.subject}/faces"
    files = {"image": ("x.jpg", portrait_jpegs[0], "image/jpeg")}
    for key in operators(world):
        assert_refused(world.client.post(url, data={"consent_id": world.consent_id}, files=files,
                                         headers=auth(key)), 403, "subject_credential_required")
    # The desk opens a capture session, but only the person's passkey approves it.
    capture = world.client.post(
        f"/v1/subjects/{world.subject}/challenges", headers=auth(world.keys.portal),
        json={"act": "enrol", "consent_id": world.consent_id,
              "photo_sha256": hashlib.sha256(portrait_jpegs[0]).hexdigest()}).json()
    assert_refused(world.client.post(url, data={"capture_id": capture["ceremony_id"]}, files=files,
                                     headers=auth(world.keys.portal)), 403, "challenge_invalid")
    person = world.people[world.subject]
    desk_signed = {"ceremony_id": capture["ceremony_id"],
                   "credential": person.authenticator.get(capture["options"])}
    assert_refused(world.client.post(f"/v1/subjects/{world.subject}/capture-approvals",
                                     json=desk_signed, headers=auth(world.keys.portal)),
                   403, "subject_credential_required")


def test_an_approved_capture_enrols_that_photo_only_and_once(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    person = world.people[world.subject]
    capture = person.approve_capture(world.consent_id, portrait_jpegs[0], desk=world.keys.portal)
    url = f"/v1/subjects/{world.subject}/faces"
    other = {"image": ("x.jpg", flipped_jpegs[0], "image/jpeg")}
    assert_refused(world.client.post(url, data={"capture_id": capture}, files=other,
                                     headers=auth(world.keys.portal)), 403, "challenge_invalid")
    same = {"image": ("x.jpg", portrait_jpegs[0], "image/jpeg")}
    enrolled = world.client.post(url, data={"capture_id": capture}, files=same,
                                 headers=auth(world.keys.portal))
    assert enrolled.status_code == 201, enrolled.text
    assert_refused(world.client.post(url, data={"capture_id": capture}, files=same,
                                     headers=auth(world.keys.portal)), 403, "challenge_invalid")


def test_an_operator_key_cannot_make_a_subject_searchable(world: World) -> None:
    for key in operators(world):
        assert_refused(world.client.patch(f"/v1/subjects/{world.subject}",
                                          json={"searchable": True}, headers=auth(key)),
                       403, "subject_credential_required")
    assert_refused(world.client.post("/v1/subjects", json={"age_category": "adult",
                                                            "searchable": True},
                                     headers=auth(world.keys.portal)), 403,
                   "subject_credential_required")


def test_the_operators_answer_holds_links_never_a_subject_credential(world: World) -> None:
    person, answer = world.new_person()
    assert "subject_token" not in json.dumps(answer)
    link = answer["enrolment"]
    assert link["link_url"].endswith("#" + link["secret"]) and link["qr_svg"].startswith("<svg")
    assert_refused(world.client.get(f"/v1/subjects/{person.pseudonym}",
                                    headers=auth(str(link["secret"]))), 401, "unauthenticated")
    again = world.client.post("/v1/passkeys/registration-options",
                              json={"link": link["secret"]})
    assert_refused(again, 410, "link_invalid")  # used by the person: nobody else can register
    assert_refused(world.client.post(f"/v1/subjects/{person.pseudonym}/enrolment-links", json={},
                                     headers=auth(world.keys.portal)), 409, "already_registered")


def _desk_shell_and_kept_link(world: World) -> tuple[str, str, str]:
    """A shell made by the desk, which at once asks for another link (allowed: no passkey yet)
    and keeps it: (pseudonym, the link handed to the person, the link kept)."""
    made = world.new_shell()
    pseudonym = made["pseudonym"]
    kept = world.client.post(f"/v1/subjects/{pseudonym}/enrolment-links",
                             json={"capacity": "self"}, headers=auth(world.keys.portal))
    assert kept.status_code == 201, kept.text
    return pseudonym, made["enrolment"]["secret"], kept.json()["secret"]


@pytest.mark.parametrize("used", ["handed", "kept"])
def test_the_first_link_used_voids_every_other_so_no_second_passkey_is_added(
    world: World, used: str
) -> None:
    """The person registers with the link handed to them, or, theirs lost, with a new one made
    while they had no passkey: either way the subject is theirs, and the other link, kept by
    whoever asked for it, registers nothing more."""
    pseudonym, handed, kept = _desk_shell_and_kept_link(world)
    first, other = (handed, kept) if used == "handed" else (kept, handed)
    person = world.take_over(first)
    assert person.pseudonym == pseudonym
    assert_refused(world.client.post("/v1/passkeys/registration-options", json={"link": other}),
                   410, "link_invalid")


def test_two_links_raced_at_once_register_one_passkey_only(world: World) -> None:
    pseudonym, handed, kept = _desk_shell_and_kept_link(world)
    desk_options = world.client.post("/v1/passkeys/registration-options", json={"link": kept})
    assert desk_options.status_code == 200, desk_options.text  # opened before the person's
    person = world.take_over(handed)
    desk = SoftAuthenticator(origin=ORIGIN)
    assert_refused(world.client.post("/v1/passkeys/registrations", json={
        "ceremony_id": desk_options.json()["ceremony_id"],
        "credential": desk.create(desk_options.json()["options"])}), 409, "already_registered")
    own = world.client.get(f"/v1/subjects/{pseudonym}", headers=person.headers)
    assert own.status_code == 200, own.text


def test_a_minors_own_token_cannot_claim_parental_authority(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    minor, answer = world.new_person(age="minor_13")
    act = {**world.consent_act(), "given_by": "parental_authority"}
    assert_refused(world.client.post(f"/v1/subjects/{minor.pseudonym}/challenges", json=act,
                                     headers=minor.headers), 403, "capacity_not_held")
    with pytest.raises(SoftPersonFailed) as own:
        minor.consent(purposes=[world.purpose_id], notice_id=world.notice_id,
                      expires_at=in_a_year())
    assert own.value.response.json()["code"] == "guardian_consent_required"
    guardian = world.take_over(answer["guardian_enrolment"]["secret"])
    assert guardian.pseudonym == minor.pseudonym
    given = guardian.consent(purposes=[world.purpose_id], notice_id=world.notice_id,
                             expires_at=in_a_year())
    assert given["consent"]["given_by"] == "parental_authority"
    with pytest.raises(SoftPersonFailed) as photo:  # the child does not approve their photo
        minor.approve_capture(given["consent"]["id"], portrait_jpegs[0])
    assert photo.value.response.json()["code"] == "guardian_consent_required"
    guardian.enrol(given["consent"]["id"], portrait_jpegs[0], desk=world.keys.portal)


def test_a_second_persons_face_is_refused_for_a_subject(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    person = world.people[world.subject]
    person.enrol(world.consent_id, portrait_jpegs[0])
    person.enrol(world.consent_id, flipped_jpegs[0])  # the same person, another photo
    with pytest.raises(SoftPersonFailed) as refused:
        person.enrol(world.consent_id, portrait_jpegs[1])  # someone else in the group photo
    assert_refused(refused.value.response, 403, "face_mismatch")


def test_a_subject_whose_face_went_with_a_withdrawal_enrols_another_only_at_the_desk(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """Red team 6, finding 1: the subject enrols their face, signs a second consent, withdraws
    the first (their face goes with it), then opens a capture with their own token for
    someone else's photo. Refused; the desk's capture enrols them again."""
    person = world.people[world.subject]
    person.enrol(world.consent_id, portrait_jpegs[3])  # the first: their own to do
    second = world.consent(world.subject)
    person.withdraw(world.consent_id)
    url = f"/v1/subjects/{world.subject}"
    act = {"act": "enrol", "consent_id": second,
           "photo_sha256": hashlib.sha256(portrait_jpegs[2]).hexdigest()}
    assert_refused(world.client.post(f"{url}/challenges", json=act, headers=person.headers),
                   403, "reenrol_at_desk")
    assert world.client.get(f"{url}/faces", headers=person.headers).json() == []
    enrolled_on = world.client.get(url, headers=person.headers).json()["first_enrolled_at"]
    assert enrolled_on is not None

    again = person.enrol(second, portrait_jpegs[3], desk=world.keys.portal)
    assert [f["id"] for f in world.client.get(f"{url}/faces", headers=person.headers).json()
            ] == [again["id"]]
    assert world.client.get(url, headers=person.headers).json()["first_enrolled_at"] == (
        enrolled_on)


def test_templates_per_subject_are_capped(
    tmp_path: Path, pipeline: FacePipeline, flipped_jpegs: list[bytes]
) -> None:
    with deployment(tmp_path, pipeline, max_templates_per_subject=1) as (_, _, client, keys):
        world = set_up_world(client, keys)
        person = world.people[world.subject]
        person.enrol(world.consent_id, flipped_jpegs[0])
        with pytest.raises(SoftPersonFailed) as refused:
            person.enrol(world.consent_id, flipped_jpegs[0])
        assert_refused(refused.value.response, 409, "template_limit")


def test_a_replacement_the_subject_approved_rectifies_a_template_even_at_the_cap(
    tmp_path: Path, pipeline: FacePipeline, portrait_jpegs: list[bytes],
    flipped_jpegs: list[bytes],
) -> None:
    with deployment(tmp_path, pipeline, max_templates_per_subject=1) as (_, _, client, keys):
        world = set_up_world(client, keys)
        person = world.people[world.subject]
        old = person.enrol(world.consent_id, flipped_jpegs[0], desk=keys.portal)
        new = person.enrol(world.consent_id, portrait_jpegs[0], desk=keys.portal,
                           replaces=old["id"])
        export = client.get(f"/v1/subjects/{world.subject}/export", headers=auth(keys.portal))
        assert [t["id"] for t in export.json()["templates"]] == [new["id"]]
        replaced = [e["details"] for e in export.json()["events"]
                    if e["action"] == "template_replaced"]
        assert [(d["template_id"], d["replaced_by"]) for d in replaced] == [
            (old["id"], new["id"])]


def test_a_replacement_of_another_subjects_template_is_refused_and_enrols_nothing(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    mine = world.enrol(world.subject, world.consent_id, portrait_jpegs[0])
    other, _ = world.new_subject()
    theirs = world.enrol(other, world.consent(other), portrait_jpegs[1])
    opened = world.client.post(
        f"/v1/subjects/{world.subject}/challenges", headers=auth(world.keys.portal),
        json={"act": "enrol", "consent_id": world.consent_id, "replaces": theirs["id"],
              "photo_sha256": hashlib.sha256(flipped_jpegs[0]).hexdigest()})
    assert_refused(opened, 409, "template_not_replaceable")
    assert opened.json()["details"] == {"template_id": theirs["id"], "problem": "unknown"}
    for subject, template in ((world.subject, mine), (other, theirs)):
        export = world.client.get(f"/v1/subjects/{subject}/export",
                                  headers=auth(world.keys.portal)).json()
        assert [t["id"] for t in export["templates"]] == [template["id"]]


def test_a_subject_lists_the_ids_of_their_own_templates_to_replace_never_the_vectors(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    mine = world.enrol(world.subject, world.consent_id, portrait_jpegs[0])
    other, _ = world.new_subject()
    world.enrol(other, world.consent(other), portrait_jpegs[1])
    own = world.client.get(f"/v1/subjects/{world.subject}/faces",
                           headers=auth(world.subject_token))
    assert own.status_code == 200, own.text
    assert [face["id"] for face in own.json()] == [mine["id"]]
    assert set(own.json()[0]) == {"id", "subject", "consent_id", "model_id", "quality",
                                  "created_at"}
    theirs = world.client.get(f"/v1/subjects/{other}/faces", headers=auth(world.subject_token))
    assert_refused(theirs, 403, "forbidden")


def test_the_portal_shows_the_person_which_template_a_capture_replaces(
    world: World, portrait_jpegs: list[bytes], flipped_jpegs: list[bytes]
) -> None:
    old = world.enrol(world.subject, world.consent_id, portrait_jpegs[0])
    opened = world.client.post(
        f"/v1/subjects/{world.subject}/challenges", headers=auth(world.keys.portal),
        json={"act": "enrol", "consent_id": world.consent_id, "replaces": old["id"],
              "photo_sha256": hashlib.sha256(flipped_jpegs[0]).hexdigest()})
    assert opened.status_code == 200, opened.text
    assert opened.json()["statement"]["replaces"] == old["id"]  # signed with the photo
    portal_session(world.client, world.people[world.subject])
    page = world.client.get("/portal", headers={"Accept-Language": "en"}).text
    assert f"It replaces your template {old['id']}, which is then destroyed." in page


def _identify(world: World, probe: str, image: bytes, key: str) -> httpx2.Response:
    return world.client.post(
        "/v1/identify", data={"purpose_id": world.purpose_id, "probe_consent_id": probe},
        files={"image": ("p.jpg", image, "image/jpeg")}, headers=auth(key))


def test_a_probe_consent_comes_from_the_person_in_the_probe_and_binds_image_and_key(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    image = portrait_jpegs[0]
    request = world.client.post("/v1/probe-consents", headers=auth(world.keys.researcher), json={
        "purpose_id": world.purpose_id, "notice_id": world.notice_id,
        "probe_sha256": hashlib.sha256(image).hexdigest()}).json()
    assert set(request) == {"request_id", "link_url", "secret", "expires_at", "qr_svg"}
    assert_refused(_identify(world, request["request_id"], image, world.keys.researcher), 403,
                   "probe_consent_required")  # a request is not a consent
    second_key = world.client.post("/v1/keys", json={"role": "researcher", "name": "lab 2"},
                                   headers=auth(world.keys.admin)).json()["secret"]
    for key, picture in ((world.keys.researcher, portrait_jpegs[1]), (second_key, image)):
        probe = world.probe_consent(image)
        assert_refused(_identify(world, probe, picture, key), 403, "probe_consent_required")
        assert_refused(_identify(world, probe, image, world.keys.researcher), 403,
                       "probe_consent_required")  # the refused attempt consumed it
    probe = world.probe_consent(image)
    assert _identify(world, probe, image, world.keys.researcher).status_code == 200
    assert_refused(_identify(world, probe, image, world.keys.researcher), 403,
                   "probe_consent_required")


def test_a_verify_link_is_asked_for_alike_whatever_its_subject_and_only_they_may_sign(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """Red team 6, #2: the researcher's request names a subject and learns nothing of them (no
    face, no signature, no quota is needed to ask); whoever opens the link of a subject who may
    not sign it reads one refusal, whether the pseudonym was never made, is erased or never
    consented to the purpose."""
    image = portrait_jpegs[0]
    world.enrol(world.subject, world.consent_id, image)
    never_consented, _ = world.new_subject()
    erased, _ = world.new_subject()
    world.consent(erased)
    assert world.client.delete(f"/v1/subjects/{erased}",
                               headers=auth(world.keys.admin)).status_code == 200
    unknown = "subj_" + "0" * 24

    def ask(subject: str) -> httpx2.Response:
        return world.client.post("/v1/probe-consents", headers=auth(world.keys.researcher),
                                 json={"purpose_id": world.purpose_id,
                                       "notice_id": world.notice_id, "subject": subject,
                                       "probe_sha256": hashlib.sha256(image).hexdigest()})

    asked = {subject: ask(subject) for subject in (world.subject, never_consented, erased,
                                                   unknown)}
    assert {answer.status_code for answer in asked.values()} == {201}
    assert len({(tuple(sorted(answer.json())), answer.json()["link_url"].split("#")[0])
                for answer in asked.values()}) == 1
    refusals = [world.client.post("/v1/probe-links/subject-challenge",
                                  json={"link": asked[subject].json()["secret"]})
                for subject in (never_consented, erased, unknown)]
    assert_refused(refusals[0], 403, "purpose_not_consented")
    assert [r.json() for r in refusals] == [refusals[0].json()] * 3
    signed = world.people[world.subject].sign_probe(asked[world.subject].json()["secret"])
    verified = world.client.post(
        "/v1/verify", data={"subject": world.subject, "purpose_id": world.purpose_id,
                            "probe_consent_id": signed["id"]},
        files={"image": ("p.jpg", image, "image/jpeg")}, headers=auth(world.keys.researcher))
    assert verified.status_code == 200, verified.text
    assert verified.json()["candidates"][0]["subject"] == world.subject


def test_consent_and_probe_receipts_verify_offline_with_the_persons_passkey(
    world: World, service: OptinFace, portrait_jpegs: list[bytes], tmp_path: Path
) -> None:
    subject, _ = world.new_subject()
    person = world.people[subject]
    given = person.consent(purposes=[world.purpose_id], notice_id=world.notice_id,
                           expires_at=in_a_year())
    withdrawn = person.withdraw(given["consent"]["id"])
    signed_probe = probe_consent(world.client, world.keys.researcher, purpose_id=world.purpose_id,
                                 notice_id=world.notice_id, image=portrait_jpegs[0],
                                 origin=ORIGIN)
    for name, document in (("consent", given), ("probe", signed_probe)):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(document))
        result = verify_receipt_file(path, service.public_key)
        assert result.exit_code == 0, result.output
        assert "valid passkey signature(s) by the person" in result.output
    assert f"signed retention policy {given['consent']['retention_policy_sha256']}" in (
        verify_receipt_file(tmp_path / "consent.json", service.public_key).output)
    assert withdrawn["subject_erased"]  # the withdrawal was signed, then erased everything
    forged = json.loads(json.dumps(given["receipt"]))
    forged["receipt"]["subjectSignature"]["statement"]["purposes"] = ["pur_other"]
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(forged))
    assert verify_receipt_file(path, service.public_key).exit_code == 1


def test_verify_exhausts_the_daily_quota_and_a_second_key_does_not_reset_the_purpose(
    tmp_path: Path, pipeline: FacePipeline, portrait_jpegs: list[bytes]
) -> None:
    with deployment(tmp_path, pipeline, identify_daily_quota=2) as (_, _, client, keys):
        world = set_up_world(client, keys)
        image = portrait_jpegs[0]
        world.enrol(world.subject, world.consent_id, image)

        def verify(key: str) -> httpx2.Response:
            return client.post("/v1/verify", headers=auth(key), files={
                "image": ("p.jpg", image, "image/jpeg")}, data={
                "subject": world.subject, "purpose_id": world.purpose_id,
                "probe_consent_id": world.probe_consent(image, researcher=key,
                                                        subject=world.subject)})

        assert [verify(keys.researcher).status_code for _ in range(2)] == [200, 200]
        assert_refused(verify(keys.researcher), 429, "rate_limited")
        second = client.post("/v1/keys", json={"role": "researcher", "name": "lab 2"},
                             headers=auth(keys.admin)).json()["secret"]
        refused = verify(second)
        assert_refused(refused, 429, "rate_limited")
        assert refused.json()["details"]["spent_by"] == "purpose"


def test_a_new_researcher_key_is_audited_and_listed_on_the_reviewers_dashboard(
    world: World,
) -> None:
    made = world.client.post("/v1/keys", json={"role": "researcher", "name": "lab 9"},
                             headers=auth(world.keys.admin)).json()
    events = world.client.get("/v1/audit/events", params={"action": "key_created"},
                              headers=auth(world.keys.reviewer)).json()["events"]
    assert made["key_id"] in [e["details"]["key_id"] for e in events]
    page_login(world.client, "review", world.keys.reviewer)
    dashboard = world.client.get("/review").text
    section = dashboard.split('id="researcher-keys"')[1].split("</section>")[0]
    assert made["key_id"] in section and "lab 9" in section
