"""The record of processing activities (GDPR art. 30(1)), generated from the register.

The register (:mod:`consent.register`) already reads everything art. 30(1) asks for from the
live system; this module only arranges it by the article's points, so that a supervisory
authority asking for "the record" gets one document whose every entry names the point it
answers, and the two can never disagree: the ROPA is built from one register, carries that
register's material SHA-256 and generation time, and queries nothing the register read. What
the register does not hold is added here: a joint controller (a setting) and the recipients
data were actually disclosed to (:func:`consent.disclosures.recipients_and_grounds`). The
register's warnings come first, as they are (demo mode: the contacts may be placeholders).

Statements are English source strings, as the register's, put in the reader's words by the
:class:`~consent.wording.Say` the caller passes (the JSON is always the core's English, its keys
and ``point`` fixed). In the Markdown every statement is written as literal text
(:func:`consent.markdown.markdown_text`): most carry names an operator or a person typed (a
purpose, a recipient, a contact).
"""

from __future__ import annotations

from optinface.consent import operating_point, transfers
from optinface.consent.disclosures import DisclosedTo
from optinface.consent.markdown import markdown_text
from optinface.consent.register import labelled
from optinface.consent.schemas import Register, Ropa, RopaEntry
from optinface.consent.wording import Say, english


def _or_none(items: list[str], say: Say) -> list[str]:
    return items or [say("none")]


def _controllers(register: Register, joint_controller: str | None, say: Say) -> list[str]:
    a = register.accountability
    return [
        say("controller: {name} ({contact})", name=register.controller_name,
            contact=register.controller_contact),
        say("joint controller (art. 26): {name}", name=joint_controller or say("none")),
        say("representative in the EU (art. 27): {name}",
            name=a.eu_representative or say("none designated")),
        say("data protection officer (art. 37): {contact}", contact=a.dpo_contact),
        say("person in charge of the protection of personal information (P-39.1 s. 3.1):"
            " {name}, {title} ({contact})", name=say(a.privacy_officer_name),
            title=say(a.privacy_officer_title), contact=a.privacy_officer_contact),
    ]


def _recipients(register: Register, disclosed: list[DisclosedTo], say: Say) -> list[str]:
    configured = [say("{name}: {purpose} (legal basis: {basis})", name=r.name,
                      purpose=r.purpose, basis=r.legal_basis) for r in register.recipients]
    actual = [say("{recipient}{place}: disclosed to {times} time(s) on the ground {basis}",
                  recipient=d.recipient, place=f" ({d.country})" if d.country else "",
                  times=say.number(d.times), basis=say(str(d.legal_basis))) for d in disclosed]
    return [*_or_none(configured + actual, say),
            say("disclosures: {rule}", rule=say.reword(register.disclosure_rule))]


def _transfers(register: Register, disclosed: list[DisclosedTo], say: Say) -> list[str]:
    """The hosting's transfers, then each disclosure that took data out of the area whose law
    protects the person, with the controller's document allowing it."""
    kept = [say("{jurisdiction}: {transfer}", jurisdiction=t.jurisdiction,
                transfer=transfers.describe(t, say)) for t in register.transfers]
    sent = [say("disclosed to {recipient} in {country}, outside {area}: {times} time(s), under"
                " {assessment}", recipient=d.recipient, country=d.country,
                area=say(d.area_left), times=say.number(d.times),
                assessment=d.transfer_assessment)
            for d in disclosed if d.area_left]
    return _or_none(kept + sent, say)


def build_ropa(register: Register, *, joint_controller: str | None,
               disclosed: list[DisclosedTo], say: Say = english) -> Ropa:
    """The record of ``register``'s processing, point by point of art. 30(1), in the words
    ``say`` gives (the JSON's are the core's English; a French reader's Markdown is built
    with French words from the same register).

    Args:
        register: the register of this instant; every point but the joint controller and the
            actual disclosures is read from it.
        joint_controller: the configured joint controller (``OPTINFACE_JOINT_CONTROLLER``).
        disclosed: each recipient data went to, with its ground, place and count.
        say: the reader's words (the core's English by default).
    """
    reword = say.reword
    entries = [
        RopaEntry(point="30(1)(a)",
                  title=say("Controller, joint controller, representative and data"
                            " protection officer"),
                  items=_controllers(register, joint_controller, say)),
        RopaEntry(point="30(1)(b)", title=say("Purposes of the processing"),
                  items=_or_none([say("{name} (legal basis: {basis}): {description};"
                                      " operations: {operations}", name=p.name,
                                      basis=p.legal_basis, description=p.description,
                                      operations=", ".join(say(str(o)) for o in p.operations))
                                  for p in register.purposes], say)),
        RopaEntry(point="30(1)(c)", title=say("Categories of data subjects"),
                  items=[reword(c) for c in register.categories_of_persons]),
        RopaEntry(point="30(1)(c)", title=say("Categories of personal data"),
                  items=[reword(c) for c in register.categories_of_data]),
        RopaEntry(point="30(1)(d)", title=say("Categories of recipients"),
                  items=_recipients(register, disclosed, say)),
        RopaEntry(point="30(1)(e)", title=say("Transfers to third countries and their"
                                              " safeguards"),
                  items=_transfers(register, disclosed, say)),
        RopaEntry(point="30(1)(f)", title=say("Time limits for erasure"),
                  items=[*(say("templates for the purpose {name}: at most {days} days after"
                               " consent", name=p.name, days=say.number(p.retention_days))
                           for p in register.purposes),
                         *(reword(r) for r in register.retention_rules)]),
        RopaEntry(point="30(1)(g)", title=say("Technical and organisational security measures"),
                  items=[*(reword(m) for m in register.security_measures),
                         say("rotation fingerprint {fingerprint}",
                             fingerprint=register.rotation_fingerprint),
                         # Organisational: how a misidentification is kept from counting.
                         *(say("accuracy operating point: {statement}", statement=s)
                           for s in operating_point.statements(register.accuracy, say))]),
    ]
    return Ropa(generated_at=register.generated_at,
                register_material_sha256=register.material_sha256,
                declaration=register.declaration, warnings=register.warnings, entries=entries)


def render_ropa(ropa: Ropa, say: Say = english) -> str:
    """The record as Markdown: one section per point, every statement literal text; its
    labels in the words ``say`` gives (the entries are the record's own, built in the same
    words by :func:`build_ropa`)."""
    declared = (say("declared {day} (reference {reference}, material sha256 {sha256})",
                    day=say.day(ropa.declaration.declared_on),
                    reference=markdown_text(ropa.declaration.reference),
                    sha256=ropa.declaration.material_sha256)
                if ropa.declaration else say("not declared"))
    lines = [
        "# " + say("Record of processing activities (GDPR art. 30(1))"),
        say("Generated {when} from the register of the biometric database.",
            when=say.when(ropa.generated_at)),
        "",
        labelled(say, say("Register material sha256"), ropa.register_material_sha256),
        labelled(say, say("Register declaration"), declared),
        *(labelled(say, say("Warning"), markdown_text(say.reword(warning)))
          for warning in ropa.warnings),
    ]
    for entry in ropa.entries:
        lines += ["", "## " + say("Art. {point}: {title}", point=entry.point, title=entry.title),
                  *(f"- {markdown_text(item)}" for item in entry.items)]
    return "\n".join(lines) + "\n"
