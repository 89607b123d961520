"""A spent single-use right is signed into the witness folder before its act answers, and what
that signature's check finds never turns the committed act into something else (review 21a).
So are an API key's creation and a checkpoint asked for, though they spend nothing, and a
folder that takes no write is refused at start (black box 25)."""

from __future__ import annotations

from contextlib import closing

import pytest
from sqlalchemy import select

from optinface.consent import retention_policy
from optinface.consent.audit import AuditAction
from optinface.consent.errors import CommittedNotServed, ProbeConsentRequired, WitnessUnusable
from optinface.consent.roles import Role
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import AuditFilter, PasskeyResponse, SearchableAct, TokenAct
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import Template
from optinface.consent.witness import WRITE_CHECK, Witness
from optinface.engine.pipeline import FacePipeline
from tests.support.consent import FakeClock, World, make_world, refused
from tests.support.witness import checkpoints_refused


def _another_workers_checkpoint_past_the_log(world: World) -> None:
    """What a copy restored behind the service looks like from here: a checkpoint in the shared
    witness folder past the log's end, as another worker signed it before the copy was loaded."""
    service = world.service
    Witness(service.settings.witness_dir).record(
        "another worker's", size=service.verify_audit().events + 1000)


@pytest.mark.parametrize("act", ["enrol", "identify"])
def test_an_act_committed_before_a_restore_is_found_says_so_and_chains_no_refusal(
    world: World, portrait_jpegs: list[bytes], act: str,
) -> None:
    """The witness call runs after the act's event is chained and its transaction committed:
    the restore it finds then is answered ``committed_not_served``, never ``ledger_restored``
    ("not committed; retry": the right is spent), and no refused event is chained for it."""
    service, image = world.service, portrait_jpegs[0]
    pseudonym, consent_id = world.subject()
    probe = world.probe(image=image) if act == "identify" else None
    if act == "enrol":
        capture = world.signer(pseudonym).approve_capture(consent_id, image, desk=world.portal)
    else:
        world.enrol(pseudonym, consent_id, image)
    _another_workers_checkpoint_past_the_log(world)
    with pytest.raises(CommittedNotServed) as error:
        if act == "enrol":
            service.enrol(actor=world.portal, subject=pseudonym, capture_id=capture.id,
                          image=image)
        else:
            assert probe is not None
            service.identify(actor=world.researcher, purpose_id=world.purpose,
                             probe_consent_id=probe, image=image)
    assert error.value.code == "committed_not_served" and error.value.details["committed"]
    service.settle()
    committed = service.audit_events(actor=world.reviewer, filters=AuditFilter(
        action=AuditAction(act))).events
    assert committed, f"the {act} event committed"
    refusals = service.audit_events(actor=world.reviewer, filters=AuditFilter(
        action=AuditAction.REFUSED)).events
    assert not [event for event in refusals if event.details.get("attempted") == act]
    with service.runtime.db.reading() as session:
        assert session.scalars(select(Template.id)).all(), "the template stays enrolled"


def test_a_restore_found_by_a_later_step_of_the_start_voids_the_copys_unused_rights(
    settings: ConsentSettings, clock: FakeClock, pipeline: FacePipeline,
    portrait_jpegs: list[bytes], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The start voids what a copy holds single-use once it found the copy, whichever of its
    steps found it: not only the checks ``_wire`` makes first, but any step before the service
    goes live (a replica's catch-up, the reconciliation: stood for here by the retention
    policy's publication, which runs after them), review 21a #4."""
    with closing(OptinFace.open(settings, pipeline=pipeline, clock=clock)) as service:
        world = make_world(service, clock)
        world.enrolled(portrait_jpegs[0])
        probe = world.probe(image=portrait_jpegs[0])
    publish = retention_policy.publish

    def found_then_published(runtime: Runtime) -> object:
        runtime.live_replay.found(runtime, str(AuditAction.LOG_TRUNCATED))  # at start: noted
        return publish(runtime)

    monkeypatch.setattr(retention_policy, "publish", found_then_published)
    with closing(OptinFace.open(settings, pipeline=pipeline, clock=clock)) as restarted:
        with pytest.raises(ProbeConsentRequired) as error:
            restarted.identify(actor=world.researcher, purpose_id=world.purpose,
                               probe_consent_id=probe, image=portrait_jpegs[0])
    assert error.value.details["problem"] == "used"


def test_a_spend_whose_checkpoint_the_folder_refuses_is_committed_and_not_answered(
    world: World, portrait_jpegs: list[bytes],
) -> None:
    """The folder refuses the write (a file where its subfolder should be: refused to root
    too): the identification committed (the probe consent is spent, the search chained), but
    it is refused as ``witness_unusable`` rather than answered unwitnessed (review 21a #5)."""
    service, image = world.service, portrait_jpegs[0]
    world.enrolled(image)
    probe = world.probe(image=image)
    service.witness_audit()
    with checkpoints_refused(service.settings.witness_dir):
        with pytest.raises(WitnessUnusable) as error:
            service.identify(actor=world.researcher, purpose_id=world.purpose,
                             probe_consent_id=probe, image=image)
    assert error.value.details["committed"]
    assert service.audit_events(actor=world.reviewer, filters=AuditFilter(
        action=AuditAction.IDENTIFY)).events, "the search committed and is chained"
    with pytest.raises(ProbeConsentRequired) as spent:
        service.identify(actor=world.researcher, purpose_id=world.purpose,
                         probe_consent_id=probe, image=image)
    assert spent.value.details["problem"] == "used"


def test_a_signed_act_whose_checkpoint_the_folder_refuses_is_committed_and_not_answered(
    world: World,
) -> None:
    """A passkey challenge is a single-use right too: the person's signed opt-in to search
    committed (the challenge spent, the subject back in the galleries), but while the witness
    folder refuses its checkpoint it is refused as ``witness_unusable``, never answered
    unwitnessed; the same assertion sent again is refused as a spent challenge."""
    service = world.service
    pseudonym, _ = world.subject()
    person = world.signer(pseudonym)
    service.set_searchable(actor=person.actor, subject=pseudonym,
                           signed=person.sign(SearchableAct(searchable=False)))
    signed = person.sign(SearchableAct(searchable=True))
    service.witness_audit()
    with checkpoints_refused(service.settings.witness_dir):
        with pytest.raises(WitnessUnusable) as error:
            service.set_searchable(actor=person.actor, subject=pseudonym, signed=signed)
    assert error.value.details["committed"]
    assert service.get_subject(actor=person.actor, subject=pseudonym).searchable
    service.witness_audit()  # the folder mended, its periodic round takes the checkpoint
    refused("challenge_invalid", lambda: service.set_searchable(
        actor=person.actor, subject=pseudonym, signed=signed))


def test_an_opt_out_whose_checkpoint_the_folder_refuses_is_answered(
    world: World, caplog: pytest.LogCaptureFixture,
) -> None:
    """An act that ends processing does not wait on the operator's disk: the opt-out,
    journaled in the witness folder before it commits, is answered though the folder refuses
    its checkpoint, with an error line; its challenge is spent all the same."""
    service = world.service
    pseudonym, _ = world.subject()
    person = world.signer(pseudonym)
    signed = person.sign(SearchableAct(searchable=False))
    service.witness_audit()
    with checkpoints_refused(service.settings.witness_dir):
        answered = service.set_searchable(actor=person.actor, subject=pseudonym,
                                          signed=signed)
        assert not answered.searchable
        assert "an act that ends processing committed" in caplog.text
        refused("challenge_invalid", lambda: service.set_searchable(
            actor=person.actor, subject=pseudonym, signed=signed))


@pytest.mark.parametrize("act", ["sign-in", "subject-token"])
def test_a_challenge_answered_on_a_copy_no_check_found_yet_commits_and_shows_no_token(
    world: World, act: str,
) -> None:
    """A sign-in, or the portal's ``subject_token`` act, answered on a copy loaded behind the
    service before any check found it: the act commits there, but its challenge's signature
    checks the folder first, finds the copy, and it is answered ``committed_not_served``
    rather than with the token it made."""
    service = world.service
    pseudonym, _ = world.subject()
    person = world.signer(pseudonym)
    if act == "sign-in":
        asked = service.sign_in_options()
        signed = PasskeyResponse(ceremony_id=asked.ceremony_id,
                                 credential=person.authenticator.get(asked.options))
    else:
        signed = person.sign(TokenAct())
    _another_workers_checkpoint_past_the_log(world)
    with pytest.raises(CommittedNotServed) as error:
        if act == "sign-in":
            service.sign_in(signed)
        else:
            service.issue_subject_token(actor=person.actor, signed=signed)
    assert error.value.details["committed"]


def test_a_key_made_while_the_folder_refuses_its_checkpoint_is_never_handed_out(
    world: World,
) -> None:
    """Its event deleted with the events the folder never took, a key handed out would grant
    power that no log shows: the key commits, listed, but its secret is refused as
    ``witness_unusable``; so is a checkpoint asked for, never answered unwitnessed."""
    service = world.service
    service.witness_audit()
    with checkpoints_refused(service.settings.witness_dir):
        with pytest.raises(WitnessUnusable) as made:
            service.create_api_key(actor=world.admin, role=Role.ADMIN, name="shadow")
        assert made.value.details["committed"]
        assert [key.name for key in service.list_api_keys(actor=world.admin)
                if key.name == "shadow"] == ["shadow"]
        with pytest.raises(WitnessUnusable) as checkpoint:
            service.audit_checkpoint(actor=world.admin)
        assert checkpoint.value.details["committed"]


def test_a_witness_folder_that_takes_no_write_is_refused_at_start(
    world: World, settings: ConsentSettings, pipeline: FacePipeline,
) -> None:
    """Before, a read-only folder let every command and the server run, each checkpoint only
    logged as not witnessed. Here the start's write is refused (its file a folder: refused to
    root too, as a read-only or full folder refuses anyone)."""
    world.service.close()
    (settings.witness_dir / WRITE_CHECK).unlink()
    (settings.witness_dir / WRITE_CHECK).mkdir()
    with pytest.raises(WitnessUnusable) as refused_start:
        OptinFace.open(settings, pipeline=pipeline)
    assert str(settings.witness_dir) in refused_start.value.message
