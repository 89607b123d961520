"""The gates: every rule that can refuse an operation, each with its own typed refusal.

They read the ledger and raise; they never write. The gallery query lives here too, because
who may be found by a search is a policy, not a storage detail.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from typing import Any, TypeVar

from sqlalchemy import BindParameter, ColumnElement, Select, and_, bindparam, select
from sqlalchemy.orm import Session

from optinface.consent import row_seals
from optinface.consent.accountability import require_subject_accepted
from optinface.consent.errors import (
    CapacityNotHeld,
    ConsentExpired,
    ConsentRequired,
    ConsentWithdrawn,
    GuardianConsentRequired,
    OperationNotAllowed,
    PurposeNotConsented,
    WrittenReleaseRequired,
)
from optinface.consent.keys import KeyRing
from optinface.consent.schemas import (
    AgeCategory,
    ConsentCapacity,
    ConsentMethod,
    ErasureReason,
    Operation,
)
from optinface.consent.settings import ConsentSettings, Jurisdiction
from optinface.consent.tables import (
    Consent,
    ConsentStatus,
    Purpose,
    Subject,
    SubjectStatus,
    Template,
    consent_purposes,
)


def consent_status(consent: Consent, *, now: datetime) -> ConsentStatus:
    """The status that counts now: a stored ``active`` consent past ``Consent.ends_at`` (its
    expiry, its purposes' retention, or a guardian's ``guardian_until``) is expired."""
    if consent.status == ConsentStatus.ACTIVE and consent.ends_at <= now:
        return ConsentStatus.EXPIRED
    return ConsentStatus(consent.status)


ILLINOIS_AGE_OF_MAJORITY = 18  # below it, BIPA's release is the legal representative's


AGES_OF_DIGITAL_CONSENT: Mapping[Jurisdiction, int] = MappingProxyType({
    # GDPR art. 8(1): 16 unless national law sets 13 to 15; each value as the national law
    # adopted it.
    Jurisdiction.EU_AT: 14,  # Datenschutzgesetz s. 4(4)
    Jurisdiction.EU_BE: 13,  # Law of 30 July 2018, art. 7
    Jurisdiction.EU_BG: 14,  # Personal Data Protection Act, art. 25c
    Jurisdiction.EU_CY: 14,  # Law 125(I)/2018, s. 8
    Jurisdiction.EU_CZ: 15,  # Act 110/2019 Coll., s. 7
    Jurisdiction.EU_DE: 16,  # no derogation: art. 8(1)'s 16
    Jurisdiction.EU_DK: 13,  # Databeskyttelsesloven s. 6(2)
    Jurisdiction.EU_EE: 13,  # Isikuandmete kaitse seadus s. 8
    Jurisdiction.EU_ES: 14,  # Ley Orgánica 3/2018 (LOPDGDD), art. 7
    Jurisdiction.EU_FI: 13,  # Tietosuojalaki 1050/2018, s. 5
    Jurisdiction.EU_FR: 15,  # Loi 78-17 Informatique et libertés, art. 45
    Jurisdiction.EU_GR: 15,  # Law 4624/2019, art. 21
    Jurisdiction.EU_HR: 16,  # Act implementing the GDPR (NN 42/2018), art. 19
    Jurisdiction.EU_HU: 16,  # no derogation: art. 8(1)'s 16
    Jurisdiction.EU_IE: 16,  # Data Protection Act 2018, s. 31
    Jurisdiction.EU_IT: 14,  # Codice privacy (d.lgs. 196/2003), art. 2-quinquies
    Jurisdiction.EU_LT: 14,  # Law on the Legal Protection of Personal Data, art. 6
    Jurisdiction.EU_LU: 16,  # no derogation: art. 8(1)'s 16
    Jurisdiction.EU_LV: 13,  # Personal Data Processing Law, s. 33
    Jurisdiction.EU_MT: 13,  # Data Protection Act (Cap. 586), S.L. 586.11
    Jurisdiction.EU_NL: 16,  # UAVG, art. 5
    Jurisdiction.EU_PL: 16,  # no derogation: art. 8(1)'s 16
    Jurisdiction.EU_PT: 13,  # Lei 58/2019, art. 16
    Jurisdiction.EU_RO: 16,  # no derogation: art. 8(1)'s 16
    Jurisdiction.EU_SE: 13,  # Lag (2018:218), ch. 2 s. 4
    Jurisdiction.EU_SI: 15,  # ZVOP-2, art. 8
    Jurisdiction.EU_SK: 16,  # Act 18/2018 Coll., s. 15
    Jurisdiction.UK: 13,  # UK GDPR art. 8 as the Data Protection Act 2018, s. 9, reads it
})
"""The age of digital consent of each jurisdiction the law fixes: below it the holder of
parental responsibility consents. Québec, plain ``EU`` (the deployment's one age) and Illinois
are read by :func:`age_of_consent` instead."""


def age_of_consent(jurisdiction: Jurisdiction, settings: ConsentSettings) -> int:
    """The age from which a person of ``jurisdiction`` consents alone: Illinois's majority,
    Québec's and plain ``EU``'s settings (``quebec_min_age``, ``gdpr_min_age``), else the
    national law's (:data:`AGES_OF_DIGITAL_CONSENT`)."""
    if jurisdiction is Jurisdiction.IL:
        return ILLINOIS_AGE_OF_MAJORITY
    if jurisdiction is Jurisdiction.QC:
        return settings.quebec_min_age
    if jurisdiction is Jurisdiction.EU:
        return settings.gdpr_min_age
    return AGES_OF_DIGITAL_CONSENT[jurisdiction]


def age_at_least(subject: Subject, *, today: date) -> int:
    """The age the declared bracket guarantees today: its lowest age plus the whole years since
    it was declared (a bracket carries its date; a child of 13 is 14 a year later)."""
    bracket_age = AgeCategory(subject.age_category).min_age
    declared = subject.age_declared_on
    if declared is None:
        return bracket_age
    years = today.year - declared.year - ((today.month, today.day) < (declared.month,
                                                                        declared.day))
    return bracket_age + max(years, 0)


def comes_of_age_on(subject: Subject, age: int) -> date | None:
    """The first day the declared bracket guarantees ``age`` (:func:`age_at_least`, read the
    other way round), or None for a bracket declared without its date (it never ages)."""
    declared = subject.age_declared_on
    if declared is None:
        return None
    years = max(age - AgeCategory(subject.age_category).min_age, 0)
    try:
        return declared.replace(year=declared.year + years)
    except ValueError:  # declared on 29 February: a year counts from 1 March
        return date(declared.year + years, 3, 1)


OWN_CONSENT_GRACE_DAYS = 30
"""How long a person who came of age has to consent in their own name before the consent
their guardian gave for them ends (X-MIN 6, a design target)."""


def guardian_until(subject: Subject, settings: ConsentSettings) -> datetime | None:
    """Until when a consent given by the holder of parental authority speaks for ``subject``:
    the grace period after the day their bracket reaches the age of consent of their
    jurisdiction (from midnight UTC), or None when the bracket carries no date."""
    day = comes_of_age_on(subject, age_of_consent(Jurisdiction(subject.jurisdiction), settings))
    if day is None:
        return None
    return datetime.combine(day, time.min, tzinfo=UTC) + timedelta(days=OWN_CONSENT_GRACE_DAYS)


def max_consent_days(subject: Subject, settings: ConsentSettings, *, today: date) -> int:
    """The longest consent ``subject`` may be given today: shorter while the declared bracket
    does not guarantee adulthood (faces change while growing up, and a child's data call for
    more care: X-MIN 7). Read from the declared bracket, never from a face."""
    if age_at_least(subject, today=today) < AgeCategory.ADULT.min_age:
        return min(settings.max_consent_days, settings.minor_consent_max_days)
    return settings.max_consent_days


def require_written_release(subject: Subject, method: ConsentMethod) -> None:
    """BIPA s. 15(b)(3): in Illinois, a written release (an e-signature counts since SB 2979,
    or a signed form); a click on a portal is not one."""
    if Jurisdiction(subject.jurisdiction) is Jurisdiction.IL and method not in (
            ConsentMethod.E_SIGNATURE, ConsentMethod.SIGNED_FORM, ConsentMethod.PASSKEY):
        raise WrittenReleaseRequired(
            f"subject {subject.pseudonym} is in Illinois: BIPA requires a written release"
            " (e_signature or signed_form)",
            details={"subject": subject.pseudonym, "method": str(method)})


def under_age_of_consent(subject: Subject, settings: ConsentSettings, *, today: date,
                         keys: KeyRing) -> bool:
    """Whether the declared bracket leaves ``subject`` below the age of consent of their
    jurisdiction today: the one question of who speaks for them, the person or their guardian.
    Asked only of a bracket, date and jurisdiction the service sealed
    (:func:`row_seals.require_sealed_age`, else ``age_unsealed``): a child made an adult in the
    database, or an adult made a child again for a guardian's passkey, is neither."""
    row_seals.require_sealed_age(keys, subject)
    return below_age_of_consent(subject, settings, today=today)


def below_age_of_consent(subject: Subject, settings: ConsentSettings, *, today: date) -> bool:
    """:func:`under_age_of_consent` for a caller that has just checked the row's age seal
    itself (:func:`consent.apikeys.authenticate`, which refuses an unsealed row in its own
    terms): the seal is not checked twice."""
    minimum = age_of_consent(Jurisdiction(subject.jurisdiction), settings)
    return age_at_least(subject, today=today) < minimum


def require_capacity(
    subject: Subject, given_by: ConsentCapacity, settings: ConsentSettings, *, today: date,
    keys: KeyRing,
) -> None:
    """A minor below the age of consent of their jurisdiction needs parental authority, and
    parental authority no longer speaks for a person who reached it."""
    if given_by is not ConsentCapacity.PARENTAL_AUTHORITY:
        if under_age_of_consent(subject, settings, today=today, keys=keys):
            minimum = age_of_consent(Jurisdiction(subject.jurisdiction), settings)
            raise GuardianConsentRequired(
                f"subject {subject.pseudonym} is under {minimum}: the holder of parental"
                " authority must consent",
                details={"subject": subject.pseudonym, "age_of_consent": minimum},
            )
        return
    require_guardian_speaks(subject, settings, today=today, keys=keys)


def require_guardian_speaks(subject: Subject, settings: ConsentSettings, *, today: date,
                            keys: KeyRing) -> None:
    """Refuse (``capacity_not_held``) an act of the holder of parental authority for a person
    who has reached the age of consent: from that day only the person's own passkey adds to
    what is done with their face. (The guardian's consent already given runs its grace period,
    :func:`guardian_until`, and the person may withdraw it. The guardian's tokens and passkey
    no longer open the person's record at all: :func:`consent.apikeys.authenticate`.)"""
    if not under_age_of_consent(subject, settings, today=today, keys=keys):
        minimum = age_of_consent(Jurisdiction(subject.jurisdiction), settings)
        raise CapacityNotHeld(
            f"subject {subject.pseudonym} has reached {minimum}: parental authority no longer"
            " speaks for them",
            details={"subject": subject.pseudonym, "capacity": str(
                ConsentCapacity.PARENTAL_AUTHORITY), "age_of_consent": minimum})


def require_usable(consent: Consent, *, now: datetime) -> None:
    status = consent_status(consent, now=now)
    details = {"consent_id": consent.id}
    if status is ConsentStatus.WITHDRAWN or status is ConsentStatus.ERASED:
        raise ConsentWithdrawn(f"consent {consent.id} was withdrawn", details=details)
    if status is ConsentStatus.EXPIRED:
        raise ConsentExpired(f"consent {consent.id} has expired", details=details)


def require_enrol_consent(
    subject: Subject, consent: Consent, *, now: datetime, settings: ConsentSettings,
    keys: KeyRing,
) -> None:
    """The consent is the subject's, in force, covers enrolment, names the retention policy its
    person signed (P-39.1 s. 3.2, BIPA s. 15(a): no collection before a published policy), and
    was given with capacity, for a person of a jurisdiction the deployment accepts today (an EU
    subject taken while a representative was named gets no new photo once none is)."""
    require_subject_accepted(subject, settings)
    require_usable(consent, now=now)
    if not any(Operation.ENROL in purpose.operations for purpose in consent.purposes):
        raise ConsentRequired(
            f"consent {consent.id} does not cover enrolment",
            details={"consent_id": consent.id, "subject": subject.pseudonym},
        )
    if consent.retention_policy_sha256 is None:
        raise ConsentRequired(
            f"consent {consent.id} was given before retention policies were signed: a new"
            " consent is needed to enrol a photo",
            details={"consent_id": consent.id, "subject": subject.pseudonym},
        )
    require_capacity(subject, ConsentCapacity(consent.given_by), settings, today=now.date(),
                     keys=keys)


def require_operation(purpose: Purpose, operation: Operation) -> None:
    if operation not in purpose.operations:
        raise OperationNotAllowed(
            f"purpose {purpose.id} does not allow {operation}",
            details={"purpose_id": purpose.id, "operation": str(operation)},
        )


def in_force(now: datetime | BindParameter[datetime]) -> ColumnElement[bool]:
    """A consent that can authorise something now: not withdrawn, not expired, within its
    purposes' retention, and (a guardian's) not past its person's coming of age plus grace."""
    return and_(Consent.status == ConsentStatus.ACTIVE, Consent.ends_at > now)


def _active_consents_for(purpose_id: str, now: datetime) -> Select[int | None]:
    return (
        select(Consent.subject_id)
        .join(consent_purposes, consent_purposes.c.consent_id == Consent.id)
        .where(consent_purposes.c.purpose_id == purpose_id, in_force(now))
    )


def _usable_for(purpose_id: str | BindParameter[str],
                now: datetime | BindParameter[datetime]) -> Select[int, str]:
    """(id, model id) of templates whose OWN consent is in force and covers ``purpose_id``.

    A template's legal basis is the consent it was enrolled under: another consent of the same
    subject, to this or another purpose, does not carry it past that consent's end, and a
    template collected for one study is not matched in another. The sweeper destroys such
    templates, but the gates must not wait for it.
    """
    return (
        select(Template.id, Template.model_id)
        .join(Consent, Consent.id == Template.consent_id)
        .join(consent_purposes, consent_purposes.c.consent_id == Consent.id)
        .where(consent_purposes.c.purpose_id == purpose_id, in_force(now))
    )


def consents_to(session: Session, subject: Subject, purpose: Purpose, *, now: datetime) -> bool:
    """Whether a consent of ``subject`` to ``purpose`` is in force now: what a verify against
    them needs, and what signing a verify's probe consent needs."""
    return session.scalar(
        _active_consents_for(purpose.id, now).where(Consent.subject_id == subject.id).limit(1)
    ) is not None


def require_verify_consent(
    session: Session, subject: Subject, purpose: Purpose, *, now: datetime
) -> None:
    """A 1:1 verify needs a consent of the claimed subject to ``purpose`` in force now.

    Refused with :class:`PurposeNotConsented` rather than searched against no templates, so
    the caller learns that consent is missing instead of reading a non-match.
    """
    if not consents_to(session, subject, purpose, now=now):
        raise PurposeNotConsented(
            f"subject {subject.pseudonym} has no active consent to purpose {purpose.id}",
            details={"subject": subject.pseudonym, "purpose_id": purpose.id},
        )


def claimed_templates(
    session: Session, subject: Subject, purpose: Purpose, *, now: datetime
) -> dict[int, str]:
    """The claimed subject's templates usable for ``purpose`` (1:1), by id, with their model."""
    query = _usable_for(purpose.id, now).where(Template.subject_id == subject.id)
    return {label: model for label, model in session.execute(query)}


_GALLERY = (
    _usable_for(bindparam("purpose_id"), bindparam("now"))
    .with_only_columns(Template.id)
    .join(Subject, Subject.id == Template.subject_id)
    .where(
        Subject.status == SubjectStatus.ACTIVE,
        Subject.searchable.is_(True),
        Template.model_id == bindparam("model_id"),
    )
)
"""Built once with bound parameters: building it cost more than running it, on every search."""


def gallery_labels(
    session: Session, purpose: Purpose, *, model_id: str, now: datetime
) -> set[int]:
    """Templates searchable for ``purpose``: opted-in, active subjects, each template's own
    consent in force and covering the purpose, as the rows say. What the rows say is checked
    against what the person signed for the templates a search finds only
    (:func:`consent.matching` asks :mod:`consent.authority` and :func:`row_seals.opted_in`):
    a key per gallery entry on every search would cost more than the search."""
    return set(session.scalars(_GALLERY, {"purpose_id": purpose.id, "model_id": model_id,
                                          "now": now}))


def still_a_candidate(session: Session, keys: KeyRing, pseudonym: str, *, purpose_id: str,
                      operation: Operation, now: datetime) -> bool:
    """Whether a search's candidate could still be found by it now: an active subject with a
    template whose own consent is in force and covers the purpose, and, for a 1:N identify,
    still opted in (the opt-in sealed: :func:`row_seals.opted_in`). What the search needed is
    what a verifier's confirmation needs: a person who withdrew, opted out or was erased after
    the search is not confirmed afterwards."""
    query = (_usable_for(purpose_id, now).with_only_columns(Subject)
             .join(Subject, Subject.id == Template.subject_id)
             .where(Subject.pseudonym == pseudonym, Subject.status == SubjectStatus.ACTIVE))
    found = session.scalar(query.limit(1))
    return found is not None and (operation is not Operation.IDENTIFY
                                  or row_seals.opted_in(keys, found))


def held_to_its_limits() -> ColumnElement[bool]:
    """The subjects whose consents, templates and rows the retention rules end: every one but
    those whose erasure is under way (``excluded``, finished by
    :func:`consent.erasure.finish_interrupted`). Not merely ``active``: a status a database
    writer set to anything else (``dormant``) must not keep a consent past its end, nor its
    templates and key (BIPA 15(a)); such a status is flagged by the sweep
    (:func:`consent.retention.flag_unknown_statuses`)."""
    return Subject.status != SubjectStatus.EXCLUDED


def _in_force(now: datetime) -> Select[int | None]:
    return select(Consent.subject_id).where(in_force(now))


_Query = TypeVar("_Query", bound="Select[*tuple[Any, ...]]")


def indexable_labels(session: Session, *, model_id: str, now: datetime,
                     among: Collection[int] | None = None) -> set[int]:
    """Templates allowed in the index at all: an active subject, the template's own consent in
    force (not merely some consent of the subject's); only those of ``among``, where given (a
    few labels to put back, read without a scan of the whole gallery).

    A template of another model is the one row kept out of the index on purpose: its consent
    still allows storing it, it cannot be compared with today's model, and the register counts
    it as needing re-enrolment.
    """
    query = _of_model(select(Template.id), model_id).where(_indexable(now))
    if among is not None:
        query = query.where(Template.id.in_(sorted(among)))
    return set(session.scalars(query))


def templates_of_model(session: Session, *, model_id: str,
                       now: datetime) -> tuple[set[int], set[int]]:
    """In one query, the ids of every template of ``model_id`` and those of them
    :func:`indexable_labels` allows: what a replica compares its index with
    (:mod:`consent.replica`), where the first says what must go and the second what must be
    there."""
    every: set[int] = set()
    allowed: set[int] = set()
    for label, indexable in session.execute(
            _of_model(select(Template.id, _indexable(now)), model_id)):
        every.add(label)
        if indexable:
            allowed.add(label)
    return every, allowed


def _of_model(query: _Query, model_id: str) -> _Query:
    """``query`` over the templates of ``model_id``, with their subjects and consents."""
    return (query.join(Subject, Subject.id == Template.subject_id)
            .join(Consent, Consent.id == Template.consent_id)
            .where(Template.model_id == model_id))


def _indexable(now: datetime) -> ColumnElement[bool]:
    return and_(Subject.status == SubjectStatus.ACTIVE, in_force(now))


def limit_reason(consent: Consent) -> ErasureReason:
    """Which of its limits ends a consent at ``Consent.ends_at``: its person coming of age (a
    guardian's consent), retention or expiry."""
    if consent.guardian_until is not None and consent.guardian_until < min(
            consent.expires_at, consent.retained_until):
        return ErasureReason.CAME_OF_AGE
    return (ErasureReason.RETENTION if consent.retained_until < consent.expires_at
            else ErasureReason.EXPIRY)


def inactivity_limit(subject: Subject, settings: ConsentSettings) -> datetime:
    """When everything about ``subject`` goes if they never interact again, whatever their
    consents say: the storage limit that the sweep enforces and the access export states."""
    years = settings.retention_years_after_last_interaction
    return subject.last_interaction_at + timedelta(days=365 * years)


def awaits_first_consent_until(subject: Subject, settings: ConsentSettings) -> datetime:
    """How long a subject given no consent yet waits for its person: as long as an enrolment
    link lasts, from its last interaction (its creation, a new link, the person registering
    their passkey). Nothing but a consent allows keeping it longer."""
    return subject.last_interaction_at + timedelta(minutes=settings.enrolment_link_minutes)


def erasure_due(subject: Subject, settings: ConsentSettings, *,
                now: datetime) -> ErasureReason | None:
    """Why ``subject`` must go now for want of a basis to keep them, or None.

    No consent in force any more (unless none was ever given: its person may still be on their
    way, link in hand), or the inactivity limit passed. The sweep finds subjects with it, and an
    erasure made for one of these reasons asks it again in the transaction that excludes the
    subject, so that a consent given meanwhile, through another worker, keeps them.
    """
    deadlines = [(c.ends_at, limit_reason(c)) for c in subject.consents
                 if c.status == ConsentStatus.ACTIVE]
    waiting = awaits_first_consent_until(subject, settings) if not subject.consents else now
    deadline, reason = max(deadlines, default=(waiting, ErasureReason.EXPIRY))
    inactive = inactivity_limit(subject, settings)
    if inactive < deadline:
        deadline, reason = inactive, ErasureReason.RETENTION
    return reason if deadline <= now else None


def ended_reason(consent: Consent) -> ErasureReason:
    """Why a consent no longer in force ended: withdrawal, or whichever limit came first."""
    if consent.withdrawn_at is not None:
        return ErasureReason.WITHDRAWAL
    return limit_reason(consent)


def ended_at(consent: Consent) -> datetime:
    """When a consent no longer in force ended, for the reason :func:`ended_reason` gives."""
    return consent.withdrawn_at if consent.withdrawn_at is not None else consent.ends_at


def subjects_with_consent_ended(
    session: Session, *, now: datetime
) -> list[tuple[str, ErasureReason]]:
    """Subjects who gave consent and have none in force any more, with the reason: any status
    but excluded (:func:`held_to_its_limits`).

    Nothing allows keeping them: withdrawal and expiry both mean erasure. A subject who never
    consented yet (created, consent still to come) holds no template and is not one of them.
    The reason is that of the consent that ended last: withdrawal if it was withdrawn.
    """
    subjects = session.scalars(
        select(Subject).where(
            held_to_its_limits(),
            Subject.id.in_(select(Consent.subject_id)),
            Subject.id.not_in(_in_force(now)),
        )
    )
    ended = []
    for subject in subjects:
        last = max(subject.consents,
                   key=lambda c: c.withdrawn_at or c.ends_at)
        ended.append((subject.pseudonym, ended_reason(last)))
    return ended
