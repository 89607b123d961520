"""The record of processing activities (GDPR art. 30(1)) is generated from the live register:
each point of the article, stated from what the system does now, tied to the register's hash."""

from __future__ import annotations

from functools import partial

from optinface.consent.register import DEMO_WARNING
from optinface.consent.ropa import render_ropa
from optinface.consent.schemas import DisclosureBasis, DisclosureCreate, Operation, Ropa
from optinface.consent.settings import Recipient
from tests.support.backends import both_backends
from tests.support.consent import World, refused

POINTS = ["30(1)(a)", "30(1)(b)", "30(1)(c)", "30(1)(c)", "30(1)(d)", "30(1)(e)", "30(1)(f)",
          "30(1)(g)"]
WARRANT = DisclosureCreate(recipient="Montréal Police",
                           legal_basis=DisclosureBasis.WARRANT_SUBPOENA,
                           document_reference="2027-SW-0042", recipient_country="CA",
                           recipient_region="Québec")


def _items(ropa: Ropa, point: str, title_start: str = "") -> list[str]:
    [entry] = [e for e in ropa.entries if e.point == point and e.title.startswith(title_start)]
    return entry.items


def test_the_ropa_states_every_point_of_article_30_from_the_register(world: World) -> None:
    """Points (a) to (g) in order, none empty, each read from the register of the same instant:
    the ROPA names that register's material hash and generation time, and the declaration
    that covers it."""
    ropa = world.service.ropa(actor=world.reviewer)
    register = world.service.register(actor=world.reviewer)
    assert [e.point for e in ropa.entries] == POINTS
    assert all(e.items and all(e.items) for e in ropa.entries)
    assert ropa.generated_at == world.clock.now()
    assert ropa.register_material_sha256 == register.material_sha256
    assert ropa.declaration is not None
    assert ropa.declaration.material_sha256 == register.material_sha256
    settings = world.service.settings
    assert _items(ropa, "30(1)(a)") == [
        f"controller: {settings.controller_name} ({settings.controller_contact})",
        "joint controller (art. 26): none",
        "representative in the EU (art. 27): none designated",
        f"data protection officer (art. 37): {settings.dpo_contact}",
        "person in charge of the protection of personal information (P-39.1 s. 3.1):"
        f" {settings.privacy_officer_name}, {settings.privacy_officer_title}"
        f" ({settings.privacy_officer_contact})"]
    assert _items(ropa, "30(1)(c)", "Categories of data subjects") == (
        register.categories_of_persons)
    persons = _items(ropa, "30(1)(c)", "Categories of data subjects")
    assert any("younger minors with the consent of the holder of parental authority" in c
               for c in persons)
    # Searched with, not enrolled: data subjects too, for the instant of their search.
    assert any(c.startswith("persons in a probe, each of whom signed a consent") for c in persons)
    assert _items(ropa, "30(1)(c)", "Categories of personal data") == register.categories_of_data
    assert _items(ropa, "30(1)(d)")[0] == "none"  # no recipient configured, none disclosed to
    assert set(register.retention_rules) <= set(_items(ropa, "30(1)(f)"))
    assert set(register.security_measures) <= set(_items(ropa, "30(1)(g)"))
    markdown = render_ropa(ropa)
    assert f"- **Register material sha256**: {register.material_sha256}\n" in markdown
    for point in dict.fromkeys(POINTS):
        assert f"\n## Art. {point}: " in markdown, point


def test_a_purpose_added_appears_with_its_time_limit_and_a_new_register_hash(
    world: World,
) -> None:
    before = world.service.ropa(actor=world.reviewer)
    world.purpose_with(Operation.VERIFY, name="Door access, building B", retention_days=90)
    after = world.service.ropa(actor=world.reviewer)
    assert ("Door access, building B (legal basis: consent): test; operations: verify"
            in _items(after, "30(1)(b)"))
    assert ("templates for the purpose Door access, building B: at most 90 days after consent"
            in _items(after, "30(1)(f)"))
    assert after.register_material_sha256 != before.register_material_sha256
    assert after.register_material_sha256 == world.service.register().material_sha256


def test_hosting_outside_the_eu_states_the_transfer_and_its_safeguards(world: World) -> None:
    settings = world.service.settings
    settings.hosting_country, settings.hosting_region = "US", "Virginia"
    assert ("EU: to US (Virginia), outside the EEA; safeguards: none stated"
            in _items(world.service.ropa(), "30(1)(e)"))
    settings.transfer_safeguards = "standard contractual clauses (2021/914)"
    assert _items(world.service.ropa(), "30(1)(e)") == [
        "QC: to US (Virginia), outside Québec; safeguards: standard contractual clauses"
        " (2021/914)",
        "EU: to US (Virginia), outside the EEA; safeguards: standard contractual clauses"
        " (2021/914)"]
    settings.hosting_country, settings.hosting_region = "CA", "Québec"
    assert _items(world.service.ropa(), "30(1)(e)")[0] == "QC: none: hosted in CA (Québec)"


@both_backends  # its own grouped query over the disclosures
def test_recipients_disclosed_to_are_stated_with_their_ground(world: World) -> None:
    """GDPR art. 30(1)(d): beside the configured recipients, everyone data actually went to,
    on which BIPA 15(d) ground and how often, naming no subject."""
    world.service.settings.recipients = [Recipient(name="Ethics board", purpose="audit",
                                                   legal_basis="consent")]
    pseudonym, _ = world.subject()
    world.service.disclose(actor=world.admin, subject=pseudonym, body=WARRANT)
    world.service.disclose(actor=world.admin, subject=pseudonym, body=WARRANT)
    abroad = WARRANT.model_copy(update={"recipient": "Cook County Sheriff",
                                        "recipient_country": "US",
                                        "recipient_region": "Illinois",
                                        "transfer_assessment": "EFVP-2027-03"})
    world.service.disclose(actor=world.admin, subject=pseudonym, body=abroad)
    ropa = world.service.ropa(actor=world.reviewer)
    items = _items(ropa, "30(1)(d)")
    assert items[:3] == ["Ethics board: audit (legal basis: consent)",
                         "Cook County Sheriff (US): disclosed to 1 time(s) on the ground"
                         " warrant_subpoena",
                         "Montréal Police (CA): disclosed to 2 time(s) on the ground"
                         " warrant_subpoena"]
    assert "none" not in items and not any(pseudonym in item for item in items)
    # GDPR art. 30(1)(e), P-39.1 s. 17: the disclosure that left Québec, under its document.
    assert ("disclosed to Cook County Sheriff in US, outside Québec: 1 time(s), under"
            " EFVP-2027-03") in _items(ropa, "30(1)(e)")


def test_the_ropa_carries_the_registers_warnings_before_its_entries(world: World) -> None:
    """Demo mode's placeholder contacts are not presented as real: the ROPA states the
    register's warnings of the same instant, in JSON and above the first point in Markdown."""
    ropa = world.service.ropa(actor=world.reviewer)
    assert DEMO_WARNING in ropa.warnings
    assert ropa.warnings == world.service.register(actor=world.reviewer).warnings
    markdown = render_ropa(ropa)
    assert markdown.index(f"- **Warning**: {DEMO_WARNING}\n") < markdown.index("\n## Art. ")
    world.service.settings.demo_mode = False
    assert DEMO_WARNING not in world.service.ropa().warnings
    assert "DEMO MODE" not in render_ropa(world.service.ropa())


def test_a_configured_joint_controller_is_named(world: World) -> None:
    world.service.settings.joint_controller = "Université Laval, dpo@ulaval.ca"
    assert ("joint controller (art. 26): Université Laval, dpo@ulaval.ca"
            in _items(world.service.ropa(), "30(1)(a)"))


def test_names_in_the_ropa_markdown_are_literal_text(world: World) -> None:
    """A purpose, recipient or joint controller named like markup cannot add a section, a
    link or a tag to the record a supervisory authority reads."""
    world.purpose_with(Operation.IDENTIFY, name="x ## Art. 30(1)(g): none [ok](https://e.x)")
    settings = world.service.settings
    settings.recipients = [Recipient(name="<b>Board</b>", purpose="*audit*",
                                     legal_basis="consent")]
    settings.joint_controller = "_Acme_ `inc`"
    markdown = render_ropa(world.service.ropa())
    assert "x \\#\\# Art. 30(1)(g): none \\[ok\\](https://e.x)" in markdown
    assert "\\<b\\>Board\\</b\\>: \\*audit\\*" in markdown
    assert "\\_Acme\\_ \\`inc\\`" in markdown
    assert markdown.count("## Art. 30(1)(g)") == 1


def test_only_those_who_read_the_register_read_the_ropa(world: World) -> None:
    world.service.ropa(actor=world.admin)
    for actor in (world.researcher, world.portal):
        refused("forbidden", partial(world.service.ropa, actor=actor))
