"""The record of processing activities (GDPR art. 30(1)), generated from the register.

The register (:mod:`consent.register`) already reads everything art. 30(1) asks for from the
live system; this module only arranges it by the article's points, so that a supervisory
authority asking for "the record" gets one document whose every entry names the point it
answers, and the two can never disagree: the ROPA is built from one register, carries that
register's material SHA-256 and generation time, and queries nothing the register read. What
the register does not hold is added here: a joint controller (a setting) and the recipients
data were actually disclosed to (:func:`consent.disclosures.recipients_and_grounds`). The
register's warnings come first, as they are (demo mode: the contacts may be placeholders).

Statements are English source strings, as the register's. In the Markdown every statement is
written as literal text (:func:`consent.markdown.markdown_text`): most carry names an operator
or a person typed (a purpose, a recipient, a contact).
"""

from __future__ import annotations

from optinface.consent import operating_point, transfers
from optinface.consent.disclosures import DisclosedTo
from optinface.consent.markdown import markdown_text
from optinface.consent.schemas import Register, Ropa, RopaEntry

NONE = "none"


def _or_none(items: list[str]) -> list[str]:
    return items or [NONE]


def _controllers(register: Register, joint_controller: str | None) -> list[str]:
    a = register.accountability
    return [
        f"controller: {register.controller_name} ({register.controller_contact})",
        f"joint controller (art. 26): {joint_controller or NONE}",
        f"representative in the EU (art. 27): {a.eu_representative or 'none designated'}",
        f"data protection officer (art. 37): {a.dpo_contact}",
        f"person in charge of the protection of personal information (P-39.1 s. 3.1):"
        f" {a.privacy_officer_name}, {a.privacy_officer_title} ({a.privacy_officer_contact})",
    ]


def _recipients(register: Register, disclosed: list[DisclosedTo]) -> list[str]:
    configured = [f"{r.name}: {r.purpose} (legal basis: {r.legal_basis})"
                  for r in register.recipients]
    actual = [f"{d.recipient}{f' ({d.country})' if d.country else ''}: disclosed to {d.times}"
              f" time(s) on the ground {d.legal_basis}" for d in disclosed]
    return [*_or_none(configured + actual), f"disclosures: {register.disclosure_rule}"]


def _transfers(register: Register, disclosed: list[DisclosedTo]) -> list[str]:
    """The hosting's transfers, then each disclosure that took data out of the area whose law
    protects the person, with the controller's document allowing it."""
    kept = [f"{t.jurisdiction}: {transfers.describe(t)}" for t in register.transfers]
    sent = [f"disclosed to {d.recipient} in {d.country}, outside {d.area_left}:"
            f" {d.times} time(s), under {d.transfer_assessment}"
            for d in disclosed if d.area_left]
    return _or_none(kept + sent)


def build_ropa(register: Register, *, joint_controller: str | None,
               disclosed: list[DisclosedTo]) -> Ropa:
    """The record of ``register``'s processing, point by point of art. 30(1).

    Args:
        register: the register of this instant; every point but the joint controller and the
            actual disclosures is read from it.
        joint_controller: the configured joint controller (``OPTINFACE_JOINT_CONTROLLER``).
        disclosed: each recipient data went to, with its ground, place and count.
    """
    entries = [
        RopaEntry(point="30(1)(a)",
                  title="Controller, joint controller, representative and data protection"
                        " officer",
                  items=_controllers(register, joint_controller)),
        RopaEntry(point="30(1)(b)", title="Purposes of the processing",
                  items=_or_none([f"{p.name} (legal basis: {p.legal_basis}): {p.description};"
                                  f" operations: {', '.join(p.operations)}"
                                  for p in register.purposes])),
        RopaEntry(point="30(1)(c)", title="Categories of data subjects",
                  items=register.categories_of_persons),
        RopaEntry(point="30(1)(c)", title="Categories of personal data",
                  items=register.categories_of_data),
        RopaEntry(point="30(1)(d)", title="Categories of recipients",
                  items=_recipients(register, disclosed)),
        RopaEntry(point="30(1)(e)", title="Transfers to third countries and their safeguards",
                  items=_transfers(register, disclosed)),
        RopaEntry(point="30(1)(f)", title="Time limits for erasure",
                  items=[*(f"templates for the purpose {p.name}: at most {p.retention_days}"
                           " days after consent" for p in register.purposes),
                         *register.retention_rules]),
        RopaEntry(point="30(1)(g)", title="Technical and organisational security measures",
                  items=[*register.security_measures,
                         f"rotation fingerprint {register.rotation_fingerprint}",
                         # Organisational: how a misidentification is kept from counting.
                         *(f"accuracy operating point: {s}"
                           for s in operating_point.statements(register.accuracy))]),
    ]
    return Ropa(generated_at=register.generated_at,
                register_material_sha256=register.material_sha256,
                declaration=register.declaration, warnings=register.warnings, entries=entries)


def render_ropa(ropa: Ropa) -> str:
    """The record as Markdown: one section per point, every statement literal text."""
    declared = (f"declared {ropa.declaration.declared_on} (reference"
                f" {markdown_text(ropa.declaration.reference)}, material sha256"
                f" {ropa.declaration.material_sha256})" if ropa.declaration else "not declared")
    lines = [
        "# Record of processing activities (GDPR art. 30(1))",
        f"Generated {ropa.generated_at.isoformat()} from the register of the biometric database.",
        "",
        f"- **Register material sha256**: {ropa.register_material_sha256}",
        f"- **Register declaration**: {declared}",
        *(f"- **Warning**: {markdown_text(warning)}" for warning in ropa.warnings),
    ]
    for entry in ropa.entries:
        lines += ["", f"## Art. {entry.point}: {entry.title}",
                  *(f"- {markdown_text(item)}" for item in entry.items)]
    return "\n".join(lines) + "\n"
