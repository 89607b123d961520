"""The register is built from configuration and live figures."""

from __future__ import annotations

import json
import re

import pytest
from pydantic import ValidationError

from optinface.consent import declaration, disclosures, operating_point
from optinface.consent.register import database_location, render_pia_skeleton
from optinface.consent.schemas import Operation, SearchOutcome
from optinface.consent.service import OptinFace
from optinface.consent.settings import ConsentSettings, Jurisdiction, Recipient
from optinface.engine.pipeline import FacePipeline
from tests.support.consent import FakeClock, World, make_world, refused
from tests.support.thresholds import TEST_DATASET, TEST_DATE, TEST_THRESHOLD

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


def test_the_register_states_the_operating_point_the_service_applies(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """G-08, L-05: the threshold, its false-match and false non-match rates, its calibration,
    candidates only and two verifiers for a 1:N candidate, as an identify answer states them,
    in the JSON, the Markdown and the material the declaration hashed."""
    world.enrolled(portrait_jpegs[0])
    answer = world.identify(portrait_jpegs[0])
    register = world.service.register(actor=world.reviewer)
    point = register.accuracy
    assert (point.model_id, point.fmr, point.threshold, point.fnmr) == (
        answer.model_id, answer.fmr, answer.threshold, answer.fnmr)
    assert (point.threshold, point.dataset, point.calibrated_on) == (
        TEST_THRESHOLD, TEST_DATASET, TEST_DATE)
    assert point.outcomes == list(SearchOutcome) and answer.outcome in point.outcomes
    assert point.confirmations_required == {Operation.VERIFY: 1, Operation.IDENTIFY: 2}
    assert point.confirmations_required[Operation.IDENTIFY] == answer.confirmations_required
    assert point.searcher_may_confirm is False
    with world.service.runtime.db.transaction() as session:
        material = declaration.material_fields(session, settings=world.service.settings,
                                               models=world.service.pipeline.models,
                                               keys=world.service.runtime.keys)
    assert material["accuracy"] == point.model_dump(mode="json")
    section = world.service.render_register(register).split(
        "\n## Accuracy (operating point, declared and assessed)\n")[1].split("\n\n")[0]
    assert section.startswith(r"- model w600k\_mbf: threshold 0.36 (a score at or above it")
    assert "calibrated for a false-match rate of 0.0001 on test fixture" in section
    assert ("confirmed by 2 different verifiers for a 1:N identify, 1 for a 1:1 verify; never"
            " by the key that ran the search") in section


def test_at_a_rate_never_calibrated_the_register_says_matching_is_refused(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """No honest threshold, no search: the register states none and says why, and the search
    is refused with the engine's own reason before any other."""
    world.service.settings.match_fmr = 1e-2
    register = world.service.register(actor=world.reviewer)
    assert (register.accuracy.fmr, register.accuracy.threshold) == (1e-2, None)
    assert not register.in_service
    assert ("Matching refused: model w600k_mbf has no calibrated threshold at FMR 0.01; run"
            " benchmarks/calibrate.py.") in register.warnings
    refused("not_calibrated", lambda: world.identify(portrait_jpegs[0]))


def test_the_assessment_and_the_record_of_processing_name_the_operating_point(
    world: World
) -> None:
    """The PIA skeleton weighs misidentification at the point it assesses (and lists it as
    material); the ROPA states it among the measures of art. 30(1)(g)."""
    register = world.service.register(actor=world.reviewer)
    pia = render_pia_skeleton(register)
    assert (r"misidentification at the operating point assessed (model w600k\_mbf: threshold"
            " 0.36 (a score at or above it makes a candidate), calibrated for a false-match rate"
            " of 0.0001") in pia
    assert "models, operating point (false-match rate, its threshold and calibration," in pia
    assert "\n### Accuracy (operating point, declared and assessed)\n" in pia
    ropa = world.service.ropa(actor=world.reviewer)
    [measures] = [e.items for e in ropa.entries if e.point == "30(1)(g)"]
    stated = [m for m in measures if m.startswith("accuracy operating point: ")]
    assert stated == [f"accuracy operating point: {s}"
                      for s in operating_point.statements(register.accuracy)]
    assert stated[0].startswith("accuracy operating point: model w600k_mbf: threshold 0.36 ")
    assert "2 different verifiers for a 1:N identify" in stated[2]


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


def test_the_register_states_the_settings_that_bound_a_promise_outside_the_material(
    world: World,
) -> None:
    """Red team 4, finding 3: how long a copy made before an erasure stays decryptable, how far
    the checkpoints kept outside the database may lag the log, and the daily search quota were
    settings no reviewer saw (a year's epoch, a billion searches a day went unstated). The
    register states each with its value, in the JSON and the Markdown; not as declared
    material, so an upgrade asks no deployment to declare again."""
    settings = world.service.settings
    before = world.service.register(actor=world.reviewer)
    assert before.in_service
    settings.key_epoch_hours, settings.audit_witness_interval_seconds = 8784, 600
    settings.audit_checkpoint_every, settings.identify_daily_quota = 1000, 10**9
    register = world.service.register(actor=world.reviewer)
    assert [(b.setting, b.value) for b in register.promise_bounds] == [
        ("OPTINFACE_KEY_EPOCH_HOURS", 8784), ("OPTINFACE_AUDIT_WITNESS_INTERVAL_SECONDS", 600),
        ("OPTINFACE_AUDIT_CHECKPOINT_EVERY", 1000), ("OPTINFACE_IDENTIFY_DAILY_QUOTA", 10**9)]
    assert register.material_sha256 == before.material_sha256 and register.in_service
    markdown = world.service.render_register(register)
    section = markdown.split("\n## Settings that bound a promise\n")[1].split("\n\n")[0]
    assert section.splitlines() == [
        "- `OPTINFACE_KEY_EPOCH_HOURS` = 8784: hours a copy made before an erasure (a backup,"
        " the database's journal) stays decryptable at most: the key epoch's length",
        "- `OPTINFACE_AUDIT_WITNESS_INTERVAL_SECONDS` = 600: seconds the checkpoints kept outside"
        " the database lag the log at most while events happen (600 at most)",
        "- `OPTINFACE_AUDIT_CHECKPOINT_EVERY` = 1000: events the checkpoints kept outside the"
        " database lag the log at most (1000 at most)",
        "- `OPTINFACE_IDENTIFY_DAILY_QUOTA` = 1000000000: 1:N searches one API key may attempt"
        " per UTC day",
    ]


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
