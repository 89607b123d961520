"""After any sequence of enrolments, withdrawals and erasures, erased subjects are nowhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optinface.consent.schemas import ErasureReason
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings
from optinface.engine.pipeline import FacePipeline
from tests.support.consent import FakeClock, make_world

STEP = st.tuples(st.sampled_from(["enrol", "withdraw", "erase", "new"]), st.integers(0, 5))


@pytest.mark.slow
@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, min_size=1, max_size=8))
def test_erased_subjects_are_nowhere_and_the_chain_verifies(
    steps: list[tuple[str, int]], tmp_path_factory, thresholds_path: Path,  # type: ignore[no-untyped-def]
    pipeline: FacePipeline, clock: FakeClock, portrait_jpegs: list[bytes],
) -> None:
    folder = tmp_path_factory.mktemp("hypothesis")
    service = OptinFace.open(
        ConsentSettings(data_dir=folder, thresholds_path=thresholds_path, index_max_elements=64,
                        max_templates_per_subject=10,
                        demo_mode=True),  # enrols undeclared, as tests/consent/conftest.py's
        pipeline=pipeline, clock=clock)
    try:
        world = make_world(service, clock)
        live: list[tuple[str, str]] = [world.subject()]
        erased: list[str] = []
        # One person per subject: each subject's enrolments are of their own face.
        face = {live[0][0]: portrait_jpegs[0]}
        for action, pick in steps:
            if action == "new" or not live:
                live.append(world.subject())
                face[live[-1][0]] = portrait_jpegs[len(face) % len(portrait_jpegs)]
                continue
            pseudonym, consent_id = live[pick % len(live)]
            if action == "enrol":
                world.enrol(pseudonym, consent_id, face[pseudonym])
            elif action == "withdraw":
                world.withdraw(pseudonym, consent_id)
                live.remove((pseudonym, consent_id))
                erased.append(pseudonym)
            else:
                service.erase(actor=world.portal, subject=pseudonym, reason=ErasureReason.REQUEST)
                live.remove((pseudonym, consent_id))
                erased.append(pseudonym)
        with service.runtime.db.transaction() as session:
            from sqlalchemy import select

            from optinface.consent.tables import Subject, Template

            active = set(session.scalars(select(Template.id)))
            pseudonyms = set(session.scalars(select(Subject.pseudonym)))
        assert service.index.labels() <= active
        assert not pseudonyms & set(erased)
        assert service.verify_audit().ok
    finally:
        service.close()
