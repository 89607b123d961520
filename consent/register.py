"""The register of the biometric database, built from configuration and live figures.

It is what Québec's LCCJTI art. 45 asks an operator to declare to the Commission d'accès à
l'information (at least 60 days before the database is put into service) and the GDPR art. 30
record of processing. When matching is allowed is :mod:`consent.declaration`'s rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from optinface.consent import (
    classification,
    declaration,
    disclosures,
    epoch_promise,
    epochs,
    operating_point,
    receipts,
    residue,
    retention_policy,
    review,
    row_seals,
    transfers,
    transparency,
)
from optinface.consent.accountability import accepts, accountability
from optinface.consent.audit import log_time
from optinface.consent.keys import KeyRing
from optinface.consent.markdown import markdown_text
from optinface.consent.policies import age_of_consent
from optinface.consent.schemas import (
    DeclarationPublic,
    DisclosureBasis,
    ModelInfo,
    Operation,
    PromiseBound,
    PublishedKey,
    PurposePublic,
    Register,
    RegulatorOrderPublic,
    SearchOutcome,
)
from optinface.consent.settings import ConsentSettings, Jurisdiction
from optinface.consent.tables import Purpose, Subject, SubjectStatus, Template
from optinface.consent.wording import Say, english
from optinface.engine.manifest import ModelRole, ModelSpec

# The register's warnings: English source strings (the dashboard translates them).
DEMO_WARNING = "DEMO MODE: accountability settings may be placeholders; not for real people."
REFUSED_WARNING = "Matching refused: {reason}."
ENROLMENT_REFUSED_WARNING = "Enrolment and matching refused: {reason}."
"""Where the refusal holds enrolment too (:attr:`consent.declaration.DeclarationState.
before_enrolment`: outside demo mode, no assessment that covers the register or no declaration
recorded); a regulator's order says so in its own reason."""
STALE_WARNING = "{n} templates were made by another model: re-enrolment needed."
UNSEALED_TEMPLATES_WARNING = ("{n} template rows do not carry this service's seal (written in the"
                              " database from outside the service): no search finds them, and"
                              " they are not counted.")
REVIEWS_WARNING = ("{n} human reviews are not, in the database, as the audit log chained their"
                   " decisions (written from outside the service): the confirmed"
                   " identifications are counted from the log.")
EPOCH_PROMISE_WARNING = ("OPTINFACE_KEY_EPOCH_HOURS was raised while erasure receipts promised"
                         " the destruction of key epoch {epoch} at {at}: that epoch still ends"
                         " then; the setting ({hours} hours) counts from the next one.")
UNBOUND_WARNING = ("The declaration in force ({reference}, of {declared_on}) hashed the"
                   " register's material as it was before the deployment was part of it: it"
                   " binds neither this deployment's signing keys nor its controller, and"
                   " another deployment with the same purposes has the same hash. A new"
                   " declaration would bind them (material sha256 {sha256}), and matching"
                   " would wait for its period.")
UNACCEPTED_WARNING = ("Persons of {jurisdiction} are held although the deployment no longer"
                      " accepts them (an EU representative is owed): they get no new consent,"
                      " link or photo until it is named; their rights still work.")

PERSONS = (
    "adults who gave express consent",
    "minors from {quebec} (Québec), {gdpr} (GDPR, no member state named) or the age of digital"
    " consent their EU member state or the UK sets (13 to 16) with their own consent",
    "younger minors with the consent of the holder of parental authority",
    "Illinois: adults with a written release; minors (under 18) with the written release of"
    " their legally authorized representative",
    "persons in a probe, each of whom signed a consent to that one search (their photo and its"
    " template are never stored)",
)
"""The categories of persons (GDPR art. 30(1)(c)), English source strings."""

OWN_WORDS = ("privacy_officer_name", "privacy_officer_title", "pia_reference",
             "non_biometric_alternative")
"""The accountability fields the Markdown looks up in the reader's words: a demonstration's
placeholder, or the operator's French for its own text (the translations a French document is
given); the other fields (names, addresses, links) are shown as written."""

BOUNDS = {
    "key_epoch_hours": "hours a copy made before an erasure (a backup, the database's journal)"
    " stays decryptable at most: the key epoch's length",
    "audit_witness_interval_seconds": "seconds the checkpoints kept outside the database lag"
    " the log at most while events happen (600 at most)",
    "audit_checkpoint_every": "events the checkpoints kept outside the database lag the log at"
    " most (1000 at most)",
    "identify_daily_quota": "1:N searches one API key may attempt per UTC day",
}
"""The settings that bound a promise, by field, each with what it bounds (English source
strings): the register states their values so a reviewer sees them (red team 4, finding 3).
Not declared material (:func:`consent.declaration.material_fields`): stating them asks no
deployment to declare again; the two log settings are capped at start (:mod:`consent.settings`)."""


def promise_bounds(settings: ConsentSettings) -> list[PromiseBound]:
    """:data:`BOUNDS`, each named by its environment variable, with its value in force."""
    return [PromiseBound(setting=f"OPTINFACE_{field.upper()}", value=getattr(settings, field),
                         bounds=bounds) for field, bounds in BOUNDS.items()]


PROSE: tuple[str, ...] = (
    *PERSONS, *classification.TABLED.values(), declaration.BIOMETRIC_CHARACTERISTIC,
    *declaration.MEASURES, declaration.ADMIN_MFA_MEASURE, residue.SQLITE_MEASURE,
    residue.POSTGRESQL_MEASURE, *receipts.SIGNS, transparency.SIGNS,
    *(str(role) for role in ModelRole), *(str(op) for op in Operation),
    *(str(outcome) for outcome in SearchOutcome), *(str(kind) for kind in declaration.OrderKind),
    *(str(basis) for basis in DisclosureBasis), *BOUNDS.values(),
)
"""The English source strings the register's data carry, and the record of processing's
grounds of disclosure (the retention rules, the disclosure rule, the warnings and the
placeholders are the pages' already): the Markdown gives each in the reader's words, and
``tests/api/test_i18n.py`` checks each has its French. The register's JSON keeps them in
English, as the declaration's material SHA-256 hashed the characteristic and the measures
(:func:`consent.declaration.material_fields`)."""


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


def _active_subjects(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Subject)
                          .where(Subject.status == SubjectStatus.ACTIVE)) or 0


@dataclass(frozen=True, slots=True)
class Vitals:
    """What ``/healthz`` states of the register (:func:`vitals`)."""

    subjects: int
    template_rows: int
    stale_rows: int  # rows made by a model other than the active one
    declared: bool
    in_service: bool


def vitals(session: Session, *, settings: ConsentSettings, rows: declaration.RegisterRows,
           models: dict[str, ModelSpec], model_id: str, now: datetime) -> Vitals:
    """The register's figures a probe anyone may call, and often, is given: the gate's state
    and the template rows as counted by SQL. Not the seals' tally :func:`build_register` makes
    (every template read and, where it changed, its seal checked: over a second at 100k), which
    no unauthenticated caller should make the service do at will; the register, for those who
    may read it, counts what the seals vouch for and warns of the rest, and ``/healthz``'s
    ``index_entries`` counts what a search can find."""
    current = declaration.state(rows, settings=settings, models=models, today=now.date())
    held, stale = session.execute(select(
        func.count(), func.count().filter(Template.model_id != model_id))
        .select_from(Template)).one()
    return Vitals(subjects=_active_subjects(session), template_rows=held, stale_rows=stale,
                  declared=rows.declaration is not None, in_service=current.in_service)


def build_register(
    session: Session,
    *,
    settings: ConsentSettings,
    rows: declaration.RegisterRows,
    keys: KeyRing,
    models: dict[str, ModelSpec],
    model_id: str,
    rotation_fingerprint: str,
    signing_keys: list[PublishedKey],
    now: datetime,
    retired_keys: Sequence[PublishedKey] = (),
) -> Register:
    """The register as it stands at ``now``: settings, purposes, models and counts read live.

    Built from the database each time rather than stored, so what the operator declares is
    what the system does (``rows``: the gate's own reading of this transaction,
    :meth:`declaration.RegisterReads.rows`). The warnings say what a reader must know first:
    demo mode, why matching is refused, templates made by a model other than ``model_id``,
    and rows the figures leave out because the database says what the service did not write:
    templates counted by their seals (:func:`row_seals.tally_templates`), identifications by
    the chained decisions (:func:`review.confirmed_identifications`), and a key epoch that
    ends as its erasure receipts promised, before the longer epoch a raised setting would give
    (:func:`epoch_promise.raised`).
    """
    current = declaration.state(rows, settings=settings, models=models, today=now.date())
    subjects = _active_subjects(session)
    tally = row_seals.tally_templates(keys, session, model_id=model_id)
    identifications = review.confirmed_identifications(session, keys.hmac_key)
    held = {Jurisdiction(j).regime for j in session.scalars(
        select(Subject.jurisdiction).where(Subject.status == SubjectStatus.ACTIVE).distinct())}
    warnings = []
    if settings.demo_mode:
        warnings.append(DEMO_WARNING)
    if current.refusal is not None:
        refused = REFUSED_WARNING if current.before_enrolment is None else ENROLMENT_REFUSED_WARNING
        warnings.append(refused.format(reason=current.refusal.message))
    if (found := current.declaration) is not None and current.material_version == 1:
        warnings.append(UNBOUND_WARNING.format(
            reference=found.reference, declared_on=found.declared_on,
            sha256=current.bound_sha256))
    if tally.stale:
        warnings.append(STALE_WARNING.format(n=tally.stale))
    if tally.unsealed:
        warnings.append(UNSEALED_TEMPLATES_WARNING.format(n=tally.unsealed))
    if identifications.disagreeing:
        warnings.append(REVIEWS_WARNING.format(n=identifications.disagreeing))
    epoch = epochs.ledger_epoch(session)
    if epoch is not None and (promised := epoch_promise.raised(session, epoch)) is not None:
        warnings.append(EPOCH_PROMISE_WARNING.format(epoch=epoch, at=log_time(promised),
                                                     hours=f"{settings.key_epoch_hours:g}"))
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
        categories_of_persons=[text.format(quebec=age_of_consent(Jurisdiction.QC, settings),
                                           gdpr=age_of_consent(Jurisdiction.EU, settings))
                               for text in PERSONS],
        categories_of_data=classification.categories_of_data(),
        biometric_characteristic=declaration.BIOMETRIC_CHARACTERISTIC,
        models=[
            ModelInfo(id=spec.id, role=str(spec.role), sha256=spec.sha256, licence=spec.licence)
            for spec in models.values()
        ],
        active_model_id=model_id,
        accuracy=current.accuracy.stated,
        subjects=subjects,
        templates=tally.sealed,
        templates_needing_reenrolment=tally.stale,
        database_location=database_location(settings.url),
        hosting=settings.hosting,
        retention_rules=retention_policy.retention_rules(settings),
        security_measures=declaration.security_measures(settings),
        rotation_fingerprint=rotation_fingerprint,
        recipients=list(settings.recipients),
        disclosure_rule=disclosures.RULE,
        transfers=transfers.transfers(settings, held=held),
        signing_keys=signing_keys,
        retired_signing_keys=list(retired_keys),
        declaration=(DeclarationPublic.model_validate(current.declaration)
                     if current.declaration else None),
        in_service_from=current.in_service_from,
        in_service=current.in_service,
        material_sha256=current.current_sha256,
        material_version=current.material_version,
        material=current.material,
        orders=[RegulatorOrderPublic.model_validate(o) for o in declaration.orders(session)],
        confirmed_identifications=identifications.confirmed,
        promise_bounds=promise_bounds(settings),
        warnings=warnings,
    )


def labelled(say: Say, label: str, text: str) -> str:
    """One labelled line of the Markdown, ``label`` already in the reader's words:
    ``- **Label**: text``, spaced as the reader's language spaces a colon."""
    return say("- **{label}**: {text}", label=label, text=text)


def render_register(register: Register, say: Say = english) -> str:
    """The register as Markdown, for the reviewer and the declaration file, in the words
    ``say`` gives (French for a Québec regulator; the core's English by default). Only the
    rendering changes with the language: the register's data, and the material SHA-256 the
    declaration hashed from them, are the same in every language."""
    md = markdown_text  # the operator's own words, shown as written
    a = register.accountability.model_copy(update={
        field: md(say(value) if field in OWN_WORDS else value)
        for field, value in register.accountability if isinstance(value, str)})
    hosting = register.hosting
    declared = (
        say("{day} (reference {reference}, material sha256 {sha256})",
            day=say.day(register.declaration.declared_on),
            reference=register.declaration.reference,
            sha256=register.declaration.material_sha256)
        if register.declaration
        else say("not declared")
    )
    lines = [
        "# " + say("Register of the biometric database"),
        say("Generated {when}", when=say.when(register.generated_at)),
        "",
        labelled(say, say("Controller"),
                 f"{md(register.controller_name)} ({md(register.controller_contact)})"),
        labelled(say, say("Person in charge of personal information"),
                 f"{a.privacy_officer_name}, {a.privacy_officer_title}"
                 f" ({a.privacy_officer_contact})"),
        labelled(say, say("Data protection officer"), a.dpo_contact),
        labelled(say, say("EU representative"), a.eu_representative or say("none designated")),
        labelled(say, say("Policy"), a.policy_url),
        labelled(say, say("Non-biometric alternative"), a.non_biometric_alternative),
        labelled(say, say("Hosting location"), say(
            "{country}, {region}, by {provider}", country=md(hosting.country),
            region=md(hosting.region), provider=md(say(hosting.provider)))),
        *([labelled(say, say("DEMO MODE"),
                    say("placeholder accountability, not for real people"))]
          if a.demo_mode else []),
        labelled(say, say("Jurisdiction"), register.jurisdiction),
        labelled(say, say("Biometric characteristic"),
                 say.reword(register.biometric_characteristic)),
        labelled(say, say("Active model"), register.active_model_id),
        *[say("- **Model {id}** ({role}): sha256 {sha256}, {licence}", id=m.id,
              role=say(m.role), sha256=m.sha256, licence=m.licence)
          for m in register.models],
        labelled(say, say("Identifications confirmed by verifiers"),
                 say.number(register.confirmed_identifications)),
        say("- **Subjects**: {subjects}; **templates**: {templates} ({stale} needing"
            " re-enrolment)", subjects=say.number(register.subjects),
            templates=say.number(register.templates),
            stale=say.number(register.templates_needing_reenrolment)),
        labelled(say, say("Database"), register.database_location),
        labelled(say, say("PIA"), say("{reference} (sha256 {sha256})",
                                      reference=a.pia_reference,
                                      sha256=a.pia_sha256 or say("none"))),
        labelled(say, say("Declaration"), declared),
        labelled(say, say("In service"), say(
            "{answer} (from {start}; material sha256 now {sha256})",
            answer=say("yes" if register.in_service else "no"),
            start=(say.day(register.in_service_from) if register.in_service_from
                   else say("a declaration + 60 days")),
            sha256=register.material_sha256)),
        labelled(say, say("Biometric data sold, leased or traded"), say("never")),
        "",
        "## " + say("Accuracy (operating point, declared and assessed)"),
        *[f"- {md(s)}" for s in operating_point.statements(register.accuracy, say)],
        "",
        "## " + say("Purposes"),
        *[say("- **{name}** ({basis}): {operations}; retention {days} days",
              name=md(p.name), basis=md(p.legal_basis),
              operations=", ".join(say(str(o)) for o in p.operations),
              days=say.number(p.retention_days))
          for p in register.purposes],
        "",
        "## " + say("Recipients"),
        *([labelled(say, md(r.name), f"{md(r.purpose)} ({md(r.legal_basis)})")
           for r in register.recipients] or ["- " + say("none")]),
        labelled(say, say("Disclosures"), say.reword(register.disclosure_rule)),
        "",
        "## " + say("Transfers"),
        *[labelled(say, t.jurisdiction, md(transfers.describe(t, say)))
          for t in register.transfers],
        "",
        "## " + say("Signing keys"),
        say("Receipts and checkpoints verify with `optinface receipt verify FILE --public-key"
            " KEY` (also published at `/.well-known/optinface-keys.json`)."),
        *[say("- **{key_id}** ({algorithm}): `{public_key}`; signs {signs}", key_id=k.key_id,
              algorithm=k.algorithm, public_key=k.public_key,
              signs=", ".join(say(s) for s in k.signs))
          for k in register.signing_keys],
        *[say("- **{key_id}** ({algorithm}): `{public_key}`; retired {retired_at}: checks only"
              " the receipts that state they were signed no later", key_id=k.key_id,
              algorithm=k.algorithm, public_key=k.public_key,
              retired_at=f"{k.retired_at:%Y-%m-%d %H:%M} UTC")
          for k in register.retired_signing_keys if k.retired_at is not None],
        *([say("This register's JSON is signed by the key {key_id}: `optinface register verify"
               " FILE --public-key KEY` checks it and prints its material sha256.",
               key_id=register.signature.kid)] if register.signature else []),
        "",
        "## " + say("Categories of persons"),
        *[f"- {say.reword(c)}" for c in register.categories_of_persons],
        "",
        "## " + say("Categories of data"),
        *[f"- {say.reword(c)}" for c in register.categories_of_data],
        "",
        "## " + say("Retention"),
        *[f"- {say.reword(r)}" for r in register.retention_rules],
        "",
        "## " + say("Security measures"),
        *[f"- {say.reword(m)}" for m in register.security_measures],
        say("- rotation fingerprint {fingerprint}", fingerprint=register.rotation_fingerprint),
        "",
        "## " + say("Settings that bound a promise"),
        *[say("- `{setting}` = {value}: {bounds}", setting=b.setting,
              value=say.number(b.value), bounds=say(b.bounds))
          for b in register.promise_bounds],
        "",
        "## " + say("Regulator's orders"),
        *([say("- **{reference}** ({kind}) recorded {when}, {n} templates destroyed",
               reference=o.reference, kind=say(o.kind), when=say.when(o.recorded_at),
               n=say.number(o.templates_destroyed))
           + (say(", lifted {when}", when=say.when(o.lifted_at)) if o.lifted_at
              else say(", in force"))
           for o in register.orders] or ["- " + say("none")]),
        "",
        "## " + say("Warnings"),
        *([f"- {md(say.reword(w))}" for w in register.warnings] or ["- " + say("none")]),
    ]
    return "\n".join(lines) + "\n"


def render_pia_skeleton(register: Register, say: Say = english) -> str:
    """A privacy impact assessment to complete, generated from the live register (X-REG): the
    processing as declared, the material hash it assesses, and the sections only people can
    write, in the words ``say`` gives. Once signed, its reference, its SHA-256 and that
    material hash are settings; outside demo mode, matching is refused while the register's
    material differs. The material hash is the same whatever the language it was printed in;
    the document's own SHA-256 is that of the file the person in charge signs."""
    a = register.accountability
    # The register without its title, one heading level down: a section of this document.
    processing = render_register(register, say).split("\n", 1)[1].replace("\n## ", "\n### ")
    accuracy = markdown_text("; ".join(operating_point.statements(register.accuracy, say)))
    return "\n".join([
        say("# Privacy impact assessment (P-39.1 s. 3.3; GDPR art. 35): to complete and sign"),
        say("Generated {when} from the live register.", when=say.when(register.generated_at)),
        "",
        labelled(say, say("Register material assessed"), register.material_sha256),
        say("- Once signed, set `OPTINFACE_PIA_REFERENCE`, `OPTINFACE_PIA_SHA256` (this"
            " document's hash) and `OPTINFACE_PIA_MATERIAL_SHA256` (the line above). A change to"
            " the purposes, models, operating point (false-match rate, its threshold and"
            " calibration, verifiers), hosting, retention, security measures, recipients or"
            " transfer safeguards changes the material and refuses matching until it is assessed"
            " again."),
        "",
        say("## 1. Necessity and proportionality (TO ASSESS)"),
        say("Why a face, why these purposes, why 1:N where it is allowed, why these retention"
            " periods; the non-biometric alternative offered: {alternative}",
            alternative=say(a.non_biometric_alternative)),
        "",
        say("## 2. Risks to the persons (TO ASSESS)"),
        say("Likelihood and severity for the subjects and for the people in probes:"
            " misidentification at the operating point assessed ({accuracy}), misuse by a"
            " searcher, a breach of the templates.", accuracy=accuracy),
        "",
        say("## 3. Measures (TO ASSESS beyond those in force, listed below)"),
        "",
        say("## 4. Opinion of the person in charge: {name}, {title} (TO SIGN)",
            name=say(a.privacy_officer_name), title=say(a.privacy_officer_title)),
        "",
        say("## 5. The processing assessed, as the register states it"),
        "",
        processing,
    ])
