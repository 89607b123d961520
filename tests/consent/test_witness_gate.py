"""The witness knows when it is stalled, and the gate holds every new act while it is but
those that end processing (consent.witness.Stall, consent.witness_gate, consent.ending_acts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from optinface.consent.errors import WitnessStalled
from optinface.consent.schemas import (
    AuditFilter,
    ConsentAct,
    EraseAct,
    SearchableAct,
    SubjectAct,
    WithdrawAct,
)
from optinface.consent.tables import AuditCheckpoint, AuditEvent, Ceremony
from optinface.consent.witness import CHECKPOINTS, Witness, checkpoint_path
from tests.support.consent import World, row_count
from tests.support.witness import checkpoints_refused


def _stall(world: World) -> None:
    """A reviewer's read chained past the witnessed head, whose checkpoint the folder refuses
    at the periodic round: the witness is stalled."""
    world.service.audit_events(actor=world.reviewer, filters=AuditFilter())
    world.service.witness_audit()
    assert world.service.witness_stalled


def test_a_witness_is_stalled_from_a_refused_checkpoint_until_one_is_taken(
    tmp_path: Path,
) -> None:
    """The first refusal dates the stall, a later one keeps that date and names its own size,
    and the first checkpoint the folder takes ends it; the pause between tries is the one
    asked, for one caller at a time."""
    (tmp_path / CHECKPOINTS).mkdir()
    witness = Witness(tmp_path)
    witness.record("note 1", size=1)
    assert witness.stalled is None and not witness.try_again_due(every=0)
    with checkpoints_refused(tmp_path):
        witness.record("note 5", size=5)
        first = witness.stalled
        assert first is not None and (first.size, first.note) == (5, "note 5")
        witness.record("note 6", size=6)
        later = witness.stalled
        assert later is not None and (later.size, later.since) == (6, first.since)
        assert not witness.try_again_due(every=3600), "just tried by the record"
        assert witness.try_again_due(every=0)
    witness.record("note 6", size=6)
    assert witness.stalled is None and witness.latest_size() == 6
    assert checkpoint_path(tmp_path, 6).read_text(encoding="utf-8") == "note 6"


def test_a_stall_ends_when_another_worker_has_the_mended_folder_take_a_checkpoint(
    tmp_path: Path,
) -> None:
    """Workers of a shared ledger share the folder: one whose round, once it is mended, takes
    a checkpoint covering the log ends the others' stall as they next look at it (their try,
    their round), though they find nothing left to sign."""
    (tmp_path / CHECKPOINTS).mkdir()
    mine, other = Witness(tmp_path), Witness(tmp_path)
    mine.record("note 1", size=1)
    with checkpoints_refused(tmp_path):
        mine.record("note 6", size=6)
    other.record("note 6", size=6)
    assert mine.stalled is not None
    assert mine.unchecked() == [6]
    assert mine.stalled is None


def test_a_stalled_folder_is_handed_the_refused_note_again_not_a_new_checkpoint_each_try(
    world: World,
) -> None:
    """Each try (the periodic round's here, the gate's alike) hands the folder the checkpoint
    it refused, with no new checkpoint row signed a try; the folder mended takes that one."""
    service = world.service
    service.witness_audit()
    with checkpoints_refused(service.settings.witness_dir):
        _stall(world)
        stall = service.runtime.log.witness.stalled
        assert stall is not None
        rows = row_count(service, AuditCheckpoint)
        for _ in range(3):
            service.witness_audit()
        assert row_count(service, AuditCheckpoint) == rows
    service.witness_audit()
    assert not service.witness_stalled
    assert checkpoint_path(service.settings.witness_dir, stall.size).read_text(
        encoding="utf-8") == stall.note


@pytest.mark.parametrize(("act", "passes"), [
    (WithdrawAct(consent_id="CONSENT"), True),
    (EraseAct(), True),
    (SearchableAct(searchable=False), True),
    (SearchableAct(searchable=True), False),
    (ConsentAct(purposes=["PURPOSE"], notice_id="NOTICE", language="en",
                expires_at="2027-12-01T00:00:00Z"), False),
])
def test_while_stalled_a_challenge_is_given_only_for_an_act_that_ends_processing(
    world: World, act: SubjectAct, passes: bool,
) -> None:
    """A withdrawal, an erasure and an opt-out are asked for; an opt-in or a consent, which
    widen the processing, are refused before anything is stored or chained."""
    service = world.service
    pseudonym, consent_id = world.subject()
    person = world.signer(pseudonym)
    if isinstance(act, WithdrawAct):
        act = WithdrawAct(consent_id=consent_id)
    if isinstance(act, ConsentAct):
        act = act.model_copy(update={"purposes": [world.purpose], "notice_id": world.notice})
    service.witness_audit()
    with checkpoints_refused(service.settings.witness_dir):
        _stall(world)
        events, ceremonies = row_count(service, AuditEvent), row_count(service, Ceremony)
        if passes:
            assert service.challenge(actor=person.actor, subject=pseudonym, act=act).options
        else:
            with pytest.raises(WitnessStalled) as held:
                service.challenge(actor=person.actor, subject=pseudonym, act=act)
            assert held.value.details["committed"] is False
            assert row_count(service, AuditEvent) == events
            assert row_count(service, Ceremony) == ceremonies


def test_an_opt_in_signed_before_the_stall_waits_and_its_challenge_stays_unspent(
    world: World,
) -> None:
    """The route of the opt-out passes the API's gate, so the core holds the opt-in it also
    carries: signed before the folder stalled, it is refused before its challenge is taken,
    nothing chained, and the same signature is taken once the folder is mended."""
    service = world.service
    pseudonym, _ = world.subject(searchable=False)
    person = world.signer(pseudonym)
    signed = person.sign(SearchableAct(searchable=True))
    service.witness_audit()
    with checkpoints_refused(service.settings.witness_dir):
        _stall(world)
        events = row_count(service, AuditEvent)
        with pytest.raises(WitnessStalled):
            service.set_searchable(actor=person.actor, subject=pseudonym, signed=signed)
        assert row_count(service, AuditEvent) == events
    service.witness_audit()
    assert service.set_searchable(actor=person.actor, subject=pseudonym, signed=signed).searchable
