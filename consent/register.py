"""The register of the biometric database, built from configuration and live figures.

It is what Québec's LCCJTI art. 45 asks an operator to declare to the Commission d'accès à
l'information (at least 60 days before the database is put into service) and the GDPR art. 30
record of processing. When matching is allowed is :mod:`consent.declaration`'s rule.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from optinface.consent import (
    classification,
    declaration,
    disclosures,
    operating_point,
    retention_policy,
    review,
    transfers,
)
from optinface.consent.accountability import accepts, accountability
from optinface.consent.keys import KeyRing
from optinface.consent.markdown import markdown_text
from optinface.consent.policies import age_of_consent
from optinface.consent.schemas import (
    DeclarationPublic,
    ModelInfo,
    PublishedKey,
    PurposePublic,
    Register,
    RegulatorOrderPublic,
)
from optinface.consent.settings import ConsentSettings, Jurisdiction
from optinface.consent.tables import Purpose, Subject, SubjectStatus, Template
from optinface.engine.manifest import ModelSpec

# The register's warnings: English source strings (the dashboard translates them).
DEMO_WARNING = "DEMO MODE: accountability settings may be placeholders; not for real people."
REFUSED_WARNING = "Matching refused: {reason}."
STALE_WARNING = "{n} templates were made by another model: re-enrolment needed."
UNACCEPTED_WARNING = ("Persons of {jurisdiction} are held although the deployment no longer"
                      " accepts them (an EU representative is owed): they get no new consent,"
                      " link or photo until it is named; their rights still work.")


LOCATION_QUERY = ("host", "hostaddr", "port", "dbname")
"""The URL query parameters that say where the ledger is (a Unix socket's folder in ``host``)."""


def database_location(url: str) -> str:
    """Where the ledger is, as the register states it: driver, user, host, port and database,
    never a password, whether in the URL's user part or in its query (``?password=``,
    ``sslpassword``, a key file's path...): of the query only :data:`LOCATION_QUERY` is kept,
    since the register goes to reviewers and the regulator. A SQLite file is named by its
    absolute path: a relative one (the default ``var/optinface.db``) is relative to the
    directory the command was run from, which its reader does not know."""
    parsed = make_url(url)
    kept = {name: value for name, value in parsed.query.items() if name in LOCATION_QUERY}
    if (parsed.get_backend_name() == "sqlite" and parsed.database
            and parsed.database != ":memory:" and not parsed.database.startswith("file:")):
        parsed = parsed.set(database=str(Path(parsed.database).absolute()))
    return parsed.set(query=kept).render_as_string(hide_password=True)


def build_register(
    session: Session,
    *,
    settings: ConsentSettings,
    keys: KeyRing,
    models: dict[str, ModelSpec],
    model_id: str,
    rotation_fingerprint: str,
    signing_keys: list[PublishedKey],
    now: datetime,
) -> Register:
    """The register as it stands at ``now``: settings, purposes, models and counts read live.

    Built from the database each time rather than stored, so what the operator declares is
    what the system does. The warnings say what a reader must know first: demo mode, why
    matching is refused, templates made by a model other than ``model_id``.
    """
    current = declaration.state(declaration.RegisterRows.read(session, keys), settings=settings,
                                models=models, today=now.date())
    subjects = session.scalar(
        select(func.count()).select_from(Subject).where(Subject.status == SubjectStatus.ACTIVE)
    )
    templates = session.scalar(select(func.count()).select_from(Template))
    stale = session.scalar(
        select(func.count()).select_from(Template).where(Template.model_id != model_id)
    )
    held = {Jurisdiction(j) for j in session.scalars(
        select(Subject.jurisdiction).where(Subject.status == SubjectStatus.ACTIVE).distinct())}
    warnings = []
    if settings.demo_mode:
        warnings.append(DEMO_WARNING)
    if current.refusal is not None:
        warnings.append(REFUSED_WARNING.format(reason=current.refusal.message))
    if stale:
        warnings.append(STALE_WARNING.format(n=stale))
    warnings.extend(UNACCEPTED_WARNING.format(jurisdiction=j) for j in sorted(held)
                    if not accepts(j, settings))
    return Register(
        generated_at=now,
        controller_name=settings.controller_name,
        controller_contact=settings.controller_contact,
        accountability=accountability(settings),
        jurisdiction=settings.jurisdiction,
        purposes=[
            PurposePublic.model_validate(p)
            for p in session.scalars(select(Purpose).order_by(Purpose.created_at))
        ],
        categories_of_persons=[
            "adults who gave express consent",
            "minors from "
            f"{age_of_consent(Jurisdiction.QC, settings)} (Québec) or "
            f"{age_of_consent(Jurisdiction.EU, settings)} (GDPR) with their own consent",
            "younger minors with the consent of the holder of parental authority",
            "Illinois: adults with a written release; minors (under 18) with the written"
            " release of their legally authorized representative",
            "persons in a probe, each of whom signed a consent to that one search (their"
            " photo and its template are never stored)",
        ],
        categories_of_data=classification.categories_of_data(),
        biometric_characteristic=declaration.BIOMETRIC_CHARACTERISTIC,
        models=[
            ModelInfo(id=spec.id, role=str(spec.role), sha256=spec.sha256, licence=spec.licence)
            for spec in models.values()
        ],
        active_model_id=model_id,
        accuracy=current.accuracy.stated,
        subjects=subjects or 0,
        templates=templates or 0,
        templates_needing_reenrolment=stale or 0,
        database_location=database_location(settings.url),
        hosting=settings.hosting,
        retention_rules=retention_policy.retention_rules(settings),
        security_measures=declaration.security_measures(settings),
        rotation_fingerprint=rotation_fingerprint,
        recipients=list(settings.recipients),
        disclosure_rule=disclosures.RULE,
        transfers=transfers.transfers(settings, held=held),
        signing_keys=signing_keys,
        declaration=(DeclarationPublic.model_validate(current.declaration)
                     if current.declaration else None),
        in_service_from=current.in_service_from,
        in_service=current.in_service,
        material_sha256=current.current_sha256,
        orders=[RegulatorOrderPublic.model_validate(o) for o in declaration.orders(session)],
        confirmed_identifications=review.confirmed_identifications(session),
        warnings=warnings,
    )


def render_register(register: Register) -> str:
    """The register as Markdown, for the reviewer and the declaration file."""
    declared = (
        f"{register.declaration.declared_on} (reference {register.declaration.reference},"
        f" material sha256 {register.declaration.material_sha256})"
        if register.declaration
        else "not declared"
    )
    a = register.accountability.model_copy(update={
        field: markdown_text(value) for field, value in register.accountability
        if isinstance(value, str)})  # the operator's own words, shown as written
    hosting = register.hosting.model_copy(update={
        field: markdown_text(value) for field, value in register.hosting})
    lines = [
        "# Register of the biometric database",
        f"Generated {register.generated_at.isoformat()}",
        "",
        f"- **Controller**: {markdown_text(register.controller_name)}"
        f" ({markdown_text(register.controller_contact)})",
        f"- **Person in charge of personal information**: {a.privacy_officer_name},"
        f" {a.privacy_officer_title} ({a.privacy_officer_contact})",
        f"- **Data protection officer**: {a.dpo_contact}",
        f"- **EU representative**: {a.eu_representative or 'none designated'}",
        f"- **Policy**: {a.policy_url}",
        f"- **Non-biometric alternative**: {a.non_biometric_alternative}",
        f"- **Hosting location**: {hosting.country}, {hosting.region}, by {hosting.provider}",
        *(["- **DEMO MODE**: placeholder accountability, not for real people"]
          if a.demo_mode else []),
        f"- **Jurisdiction**: {register.jurisdiction}",
        f"- **Biometric characteristic**: {register.biometric_characteristic}",
        f"- **Active model**: {register.active_model_id}",
        *[f"- **Model {m.id}** ({m.role}): sha256 {m.sha256}, {m.licence}"
          for m in register.models],
        f"- **Identifications confirmed by verifiers**: {register.confirmed_identifications}",
        f"- **Subjects**: {register.subjects}; **templates**: {register.templates}"
        f" ({register.templates_needing_reenrolment} needing re-enrolment)",
        f"- **Database**: {register.database_location}",
        f"- **PIA**: {a.pia_reference} (sha256 {a.pia_sha256 or 'none'})",
        f"- **Declaration**: {declared}",
        f"- **In service**: {'yes' if register.in_service else 'no'}"
        f" (from {register.in_service_from or 'a declaration + 60 days'}; material sha256"
        f" now {register.material_sha256})",
        "- **Biometric data sold, leased or traded**: never",
        "",
        "## Accuracy (operating point, declared and assessed)",
        *[f"- {markdown_text(s)}" for s in operating_point.statements(register.accuracy)],
        "",
        "## Purposes",
        *[f"- **{markdown_text(p.name)}** ({markdown_text(p.legal_basis)}):"
          f" {', '.join(p.operations)}; retention {p.retention_days} days"
          for p in register.purposes],
        "",
        "## Recipients",
        *([f"- **{markdown_text(r.name)}**: {markdown_text(r.purpose)}"
           f" ({markdown_text(r.legal_basis)})" for r in register.recipients] or ["- none"]),
        f"- **Disclosures**: {register.disclosure_rule}",
        "",
        "## Transfers",
        *[f"- **{t.jurisdiction}**: {markdown_text(transfers.describe(t))}"
          for t in register.transfers],
        "",
        "## Signing keys",
        "Receipts and checkpoints verify with `optinface receipt verify FILE --public-key KEY`"
        " (also published at `/.well-known/optinface-keys.json`).",
        *[f"- **{k.key_id}** ({k.algorithm}): `{k.public_key}`; signs {', '.join(k.signs)}"
          for k in register.signing_keys],
        "",
        "## Categories of persons",
        *[f"- {c}" for c in register.categories_of_persons],
        "",
        "## Categories of data",
        *[f"- {c}" for c in register.categories_of_data],
        "",
        "## Retention",
        *[f"- {r}" for r in register.retention_rules],
        "",
        "## Security measures",
        *[f"- {m}" for m in register.security_measures],
        f"- rotation fingerprint {register.rotation_fingerprint}",
        "",
        "## Regulator's orders",
        *([f"- **{o.reference}** ({o.kind}) recorded {o.recorded_at.isoformat()},"
           f" {o.templates_destroyed} templates destroyed"
           + (f", lifted {o.lifted_at.isoformat()}" if o.lifted_at else ", in force")
           for o in register.orders] or ["- none"]),
        "",
        "## Warnings",
        *([f"- {markdown_text(w)}" for w in register.warnings] or ["- none"]),
    ]
    return "\n".join(lines) + "\n"


def render_pia_skeleton(register: Register) -> str:
    """A privacy impact assessment to complete, generated from the live register (X-REG): the
    processing as declared, the material hash it assesses, and the sections only people can
    write. Once signed, its reference, its SHA-256 and that material hash are settings; outside
    demo mode, matching is refused while the register's material differs."""
    a = register.accountability
    # The register without its title, one heading level down: a section of this document.
    processing = render_register(register).split("\n", 1)[1].replace("\n## ", "\n### ")
    accuracy = markdown_text("; ".join(operating_point.statements(register.accuracy)))
    return "\n".join([
        "# Privacy impact assessment (P-39.1 s. 3.3; GDPR art. 35): to complete and sign",
        f"Generated {register.generated_at.isoformat()} from the live register.",
        "",
        f"- **Register material assessed**: {register.material_sha256}",
        "- Once signed, set `OPTINFACE_PIA_REFERENCE`, `OPTINFACE_PIA_SHA256` (this document's"
        " hash) and `OPTINFACE_PIA_MATERIAL_SHA256` (the line above). A change to the purposes,"
        " models, operating point (false-match rate, its threshold and calibration, verifiers),"
        " hosting, retention, security measures, recipients or transfer safeguards changes the"
        " material and refuses matching until it is assessed again.",
        "",
        "## 1. Necessity and proportionality (TO ASSESS)",
        "Why a face, why these purposes, why 1:N where it is allowed, why these retention"
        f" periods; the non-biometric alternative offered: {a.non_biometric_alternative}",
        "",
        "## 2. Risks to the persons (TO ASSESS)",
        "Likelihood and severity for the subjects and for the people in probes: misidentification"
        f" at the operating point assessed ({accuracy}), misuse by a searcher, a breach of the"
        " templates.",
        "",
        "## 3. Measures (TO ASSESS beyond those in force, listed below)",
        "",
        f"## 4. Opinion of the person in charge: {a.privacy_officer_name},"
        f" {a.privacy_officer_title} (TO SIGN)",
        "",
        "## 5. The processing assessed, as the register states it",
        "",
        processing,
    ])

