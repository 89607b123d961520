"""The register is built from configuration and live figures."""

from __future__ import annotations

from tests.consent.conftest import World


def test_the_register_states_what_a_regulator_asks_for(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    pseudonym, consent_id = world.subject()
    world.service.enrol(actor=world.portal, subject=pseudonym, consent_id=consent_id,
                        image=portrait_jpegs[0])
    register = world.service.register(actor=world.reviewer)
    assert (register.subjects, register.templates) == (1, 1)
    assert register.declaration is not None and register.declaration.reference == "CAI-2026-001"
    assert register.active_model_id == "w600k_mbf"
    assert {m.id for m in register.models} == set(world.service.pipeline.models)
    assert "optinface.db" in register.database_location
    assert [p.id for p in register.purposes] == [world.purpose]
    markdown = world.service.render_register(register)
    assert "CAI-2026-001" in markdown and "Security measures" in markdown
    health = world.service.health()
    assert health["declared"] and health["index_entries"] == 1


def test_the_ledger_view_counts_consents_by_status_and_purpose(world: World) -> None:
    pseudonym, consent_id = world.subject()
    world.subject()
    world.service.withdraw_consent(actor=world.portal, subject=pseudonym, consent_id=consent_id)
    ledger = world.service.consent_ledger(actor=world.reviewer)
    assert ledger.by_status == {"active": 1, "erased": 1}
    assert ledger.by_purpose[world.purpose] == {"active": 1, "erased": 1}
