"""The register of the biometric database, built from configuration and live figures.

It is what Québec's LCCJTI art. 45 asks an operator to declare to the Commission d'accès à
l'information (at least 60 days before the database is put into service) and the GDPR art. 30
record of processing. Matching is refused until a declaration date is recorded.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from optinface.consent.policies import age_of_consent
from optinface.consent.receipts import published_key
from optinface.consent.schemas import DeclarationPublic, ModelInfo, PurposePublic, Register
from optinface.consent.settings import ConsentSettings, Jurisdiction
from optinface.consent.tables import Purpose, RegisterDeclaration, Subject, SubjectStatus, Template
from optinface.engine.manifest import ModelSpec


def build_register(
    session: Session,
    *,
    settings: ConsentSettings,
    models: dict[str, ModelSpec],
    model_id: str,
    rotation_fingerprint: str,
    public_key: str,
    now: datetime,
) -> Register:
    declaration = session.scalars(
        select(RegisterDeclaration).order_by(RegisterDeclaration.id.desc()).limit(1)
    ).first()
    subjects = session.scalar(
        select(func.count()).select_from(Subject).where(Subject.status == SubjectStatus.ACTIVE)
    )
    templates = session.scalar(select(func.count()).select_from(Template))
    stale = session.scalar(
        select(func.count()).select_from(Template).where(Template.model_id != model_id)
    )
    in_service_from = (
        declaration.declared_on + timedelta(days=settings.declaration_warning_days)
        if declaration
        else None
    )
    warnings = []
    if declaration is None:
        warnings.append("Not declared: identification and verification are refused.")
    elif in_service_from is not None and now.date() < in_service_from:
        warnings.append(
            f"Declared on {declaration.declared_on}: Québec requires the declaration"
            f" {settings.declaration_warning_days} days before the database is put into"
            f" service, i.e. not before {in_service_from}."
        )
    if stale:
        warnings.append(f"{stale} templates were made by another model: re-enrolment needed.")
    return Register(
        generated_at=now,
        controller_name=settings.controller_name,
        controller_contact=settings.controller_contact,
        privacy_officer=settings.privacy_officer,
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
        ],
        biometric_characteristic=(
            "face: 512-dimensional ArcFace templates, protected by a secret rotation and"
            " encrypted; no images kept"
        ),
        models=[
            ModelInfo(id=spec.id, role=str(spec.role), sha256=spec.sha256, licence=spec.licence)
            for spec in models.values()
        ],
        active_model_id=model_id,
        subjects=subjects or 0,
        templates=templates or 0,
        templates_needing_reenrolment=stale or 0,
        database_location=make_url(settings.url).render_as_string(hide_password=True),
        retention_rules=[
            "until consent expires or is withdrawn (erased in the same call)",
            "at most each purpose's retention period after consent",
            f"at most {settings.retention_years_after_last_interaction} years after the last"
            " interaction",
            f"consents last at most {settings.max_consent_days} days",
        ],
        security_measures=[
            "AES-256-GCM template encryption under per-subject keys wrapped by a master key",
            f"template protection by a secret orthogonal rotation (fingerprint"
            f" {rotation_fingerprint})",
            "hash-chained audit log with Ed25519-signed checkpoints",
            "SQLite secure_delete and WAL truncation on erasure; index entries scrubbed",
            "API keys and subject tokens stored as keyed hashes; role-based access",
        ],
        pia_reference=settings.pia_reference,
        recipients=list(settings.recipients),
        signing_keys=[published_key(public_key)],
        declaration=DeclarationPublic.model_validate(declaration) if declaration else None,
        in_service_from=in_service_from,
        warnings=warnings,
    )


def render_register(register: Register) -> str:
    """The register as Markdown, for the reviewer and the declaration file."""
    declared = (
        f"{register.declaration.declared_on} (reference {register.declaration.reference})"
        if register.declaration
        else "not declared"
    )
    lines = [
        "# Register of the biometric database",
        f"Generated {register.generated_at.isoformat()}",
        "",
        f"- **Controller**: {register.controller_name} ({register.controller_contact})",
        f"- **Privacy officer**: {register.privacy_officer}",
        f"- **Jurisdiction**: {register.jurisdiction}",
        f"- **Biometric characteristic**: {register.biometric_characteristic}",
        f"- **Active model**: {register.active_model_id}",
        *[f"- **Model {m.id}** ({m.role}): sha256 {m.sha256}, {m.licence}"
          for m in register.models],
        f"- **Subjects**: {register.subjects}; **templates**: {register.templates}"
        f" ({register.templates_needing_reenrolment} needing re-enrolment)",
        f"- **Database**: {register.database_location}",
        f"- **PIA**: {register.pia_reference}",
        f"- **Declaration**: {declared}",
        "",
        "## Purposes",
        *[f"- **{p.name}** ({p.legal_basis}): {', '.join(p.operations)};"
          f" retention {p.retention_days} days" for p in register.purposes],
        "",
        "## Recipients",
        *([f"- **{r.name}**: {r.purpose} ({r.legal_basis})" for r in register.recipients]
          or ["- none"]),
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
        "## Retention",
        *[f"- {r}" for r in register.retention_rules],
        "",
        "## Security measures",
        *[f"- {m}" for m in register.security_measures],
        "",
        "## Warnings",
        *([f"- {w}" for w in register.warnings] or ["- none"]),
    ]
    return "\n".join(lines) + "\n"
