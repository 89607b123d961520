"""The register is built from configuration and live figures."""

from __future__ import annotations

import json
import re

import pytest
from pydantic import ValidationError

from optinface.consent import disclosures
from optinface.consent.register import database_location
from optinface.consent.schemas import Operation
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings, Jurisdiction, Recipient
from optinface.engine.pipeline import FacePipeline
from tests.support.consent import FakeClock, World, make_world

ETHICS_BOARD = Recipient(
    name="Université Laval ethics board",
    purpose="audit of the searches made in study 1",
    legal_basis="express consent (Law 25 s. 12; GDPR art. 9(2)(a))",
)


def test_the_register_states_what_a_regulator_asks_for(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    world.enrolled(portrait_jpegs[0])
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


def test_the_register_holds_every_item_of_article_30(world: World) -> None:
    """GDPR art. 30(1)(a)-(g), each stated in the JSON and as a section of the Markdown, with
    the 64-hex material hash that declarations and assessments cover."""
    world.service.settings.recipients = [ETHICS_BOARD]  # none by default, stated as "none"
    register = world.service.register(actor=world.reviewer)
    items = {
        "(a) controller and DPO": [register.controller_name, register.controller_contact,
                                   register.accountability.dpo_contact],
        "(b) purposes": register.purposes,
        "(c) categories of persons": register.categories_of_persons,
        "(c) categories of data": register.categories_of_data,
        "(d) recipients": register.recipients,
        "(e) transfers": register.transfers,
        "(f) erasure time limits": register.retention_rules,
        "(g) security measures": register.security_measures,
    }
    for item, stated in items.items():
        assert stated and all(stated), item
    markdown = world.service.render_register(register)
    for heading in ("Purposes", "Categories of persons", "Categories of data", "Recipients",
                    "Transfers", "Retention", "Security measures"):
        assert re.search(rf"\n## {heading}\n- \S", markdown), heading
    assert re.fullmatch(r"[0-9a-f]{64}", register.material_sha256)
    assert f"material sha256 now {register.material_sha256})" in markdown


def test_transfers_follow_the_hosting_and_the_persons_accepted(world: World) -> None:
    """Derived from the live settings: kept within a jurisdiction is "none", kept outside is a
    transfer under the configured safeguards; EU persons count only once accepted (G-16)."""
    settings = world.service.settings

    def stated() -> tuple[dict[Jurisdiction, tuple[bool, str | None]], str]:
        register = world.service.register(actor=world.reviewer)
        markdown = world.service.render_register(register)
        section = markdown.split("## Transfers\n")[1].split("\n\n")[0]
        return {t.jurisdiction: (t.transfer, t.safeguards) for t in register.transfers}, section

    assert stated() == ({Jurisdiction.QC: (False, None), Jurisdiction.EU: (True, None)},
                        "- **QC**: none: hosted in CA (Québec)\n"
                        "- **EU**: to CA (Québec), outside the EEA; safeguards: none stated")
    settings.hosting_country, settings.hosting_region = "DE", "Frankfurt am Main"
    settings.transfer_safeguards = "standard contractual clauses (2021/914); s. 17 PIA"
    assert stated() == (
        {Jurisdiction.QC: (True, settings.transfer_safeguards), Jurisdiction.EU: (False, None)},
        "- **QC**: to DE (Frankfurt am Main), outside Québec; safeguards: standard contractual"
        " clauses (2021/914); s. 17 PIA\n"
        "- **EU**: none: hosted in DE (Frankfurt am Main)")
    settings.demo_mode = False  # and no EU representative: EU persons are refused (G-16)
    assert list(stated()[0]) == [Jurisdiction.QC]


def test_the_register_names_no_recipients_by_default(world: World) -> None:
    register = world.service.register(actor=world.reviewer)
    assert register.recipients == []
    assert register.model_dump(mode="json")["recipients"] == []
    markdown = world.service.render_register(register)
    assert "## Recipients\n- none\n" in markdown


def test_the_register_states_the_only_grounds_of_disclosure(world: World) -> None:
    """GDPR art. 30(1)(d): no standing recipient, yet BIPA 15(d)'s four grounds may oblige a
    disclosure; the register says so, and that each is recorded and shown to the person."""
    register = world.service.register(actor=world.reviewer)
    assert register.disclosure_rule == disclosures.RULE
    for ground in ("consent", "financial transaction", "law", "warrant or subpoena",
                   "recorded", "shown to the person"):
        assert ground in register.disclosure_rule, ground
    markdown = world.service.render_register(register)
    assert f"## Recipients\n- none\n- **Disclosures**: {disclosures.RULE}\n" in markdown


def test_configured_recipients_are_stated_in_both_formats(
    settings: ConsentSettings, pipeline: FacePipeline, clock: FakeClock
) -> None:
    auditor = Recipient(name="Commission d'accès à l'information", purpose="inspection",
                        legal_basis="legal obligation (LCCJTI art. 45)")
    configured = settings.model_copy(update={"recipients": [ETHICS_BOARD, auditor]})
    service = OptinFace.open(configured, pipeline=pipeline, clock=clock)
    try:
        world = make_world(service, clock)
        register = service.register(actor=world.reviewer)
        markdown = service.render_register(register)
    finally:
        service.close()
    assert register.model_dump(mode="json")["recipients"] == [
        ETHICS_BOARD.model_dump(), auditor.model_dump()]
    assert (
        "## Recipients\n"
        f"- **{ETHICS_BOARD.name}**: {ETHICS_BOARD.purpose} ({ETHICS_BOARD.legal_basis})\n"
        f"- **{auditor.name}**: {auditor.purpose} ({auditor.legal_basis})\n"
    ) in markdown


def test_recipients_are_read_from_the_environment_as_json(
    settings: ConsentSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPTINFACE_RECIPIENTS", json.dumps([ETHICS_BOARD.model_dump()]))
    assert ConsentSettings(data_dir=settings.data_dir).recipients == [ETHICS_BOARD]
    monkeypatch.setenv("OPTINFACE_RECIPIENTS", '[{"name": "no purpose given"}]')
    with pytest.raises(ValidationError):
        ConsentSettings(data_dir=settings.data_dir)


def test_a_name_in_the_register_cannot_forge_a_section_or_a_link(world: World) -> None:
    """The register's Markdown goes to a regulator: a purpose or a recipient named like
    markup is written as its literal text."""
    world.purpose_with(Operation.IDENTIFY, name="x ## Regulator's orders [none](https://e.x)")
    world.service.settings.recipients = [Recipient(name="<b>Board</b>", purpose="*audit*",
                                                   legal_basis="consent")]
    markdown = world.service.render_register(world.service.register())
    assert "\\#\\# Regulator's orders \\[none\\](https://e.x)" in markdown
    assert "\\<b\\>Board\\</b\\>" in markdown and "\\*audit\\*" in markdown
    assert markdown.count("## Regulator's orders") == 1


def test_the_ledger_view_counts_consents_by_status_and_purpose(world: World) -> None:
    pseudonym, consent_id = world.subject()
    world.subject()
    world.withdraw(pseudonym, consent_id)
    ledger = world.service.consent_ledger(actor=world.reviewer)
    assert ledger.by_status == {"active": 1, "erased": 1}
    assert ledger.by_purpose[world.purpose] == {"active": 1, "erased": 1}


def test_the_register_states_where_the_ledger_is_without_any_password() -> None:
    """libpq takes a password in the URL's query as well as before the host: neither reaches
    the register, which reviewers and the regulator read."""
    location = database_location("postgresql+psycopg://ops:first-secret@db.example:5432/ledger"
                                 "?password=second-secret&sslpassword=third-secret")
    assert "secret" not in location
    assert location.endswith("db.example:5432/ledger") and "ops" in location
    # Where the ledger is stays, a Unix socket's folder included.
    assert database_location("postgresql+psycopg://ops@/ledger?host=/run/postgresql"
                             "&password=x").endswith("/ledger?host=%2Frun%2Fpostgresql")
