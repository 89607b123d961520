"""Confidentiality incidents: the register, the 72-hour clock and the two notices.

P-39.1 ss. 3.5-3.8 and the Regulation respecting confidentiality incidents (A-2.1, r. 3.1):
an enterprise that has cause to believe an incident occurred reduces the risk, assesses whether
there is a risk of serious injury, notifies the Commission and the persons concerned promptly
when there is, and keeps a register of every incident (at least 5 years: kept here with its
``keep_until``, and no route deletes one). GDPR arts. 33-34: the supervisory authority within
72 hours of becoming aware, the persons when the risk is high; art. 33(5) documentation is this
same record.

An incident that touches templates is presumed to carry a risk of serious injury (biometric
data cannot be changed like a password); recording it otherwise needs a written reason.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from optinface.consent.accountability import accountability
from optinface.consent.audit import AuditAction, Entry
from optinface.consent.clock import years
from optinface.consent.errors import InvalidRequest
from optinface.consent.ledger import get_row, new_id
from optinface.consent.markdown import markdown_text
from optinface.consent.moments import require_not_future
from optinface.consent.roles import Actor
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import IncidentCreate, IncidentNotice, IncidentPublic
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import Incident
from optinface.consent.wording import Say, english

NOTIFY_WITHIN = timedelta(hours=72)  # GDPR art. 33(1); Québec asks "promptly", no later
KEEP_YEARS = 5  # reg. r. 3.1 s. 7 as read by the matrix [verify]


TEMPLATES_FOR_THE_REGULATOR = (
    "biometric templates (face templates: measurements of a face, which the person cannot"
    " change as they would a password), stored encrypted (AES-256-GCM, each person's under"
    " their own key, those keys wrapped by epoch keys held in a key store apart from the"
    " ledger): they cannot be read without the key store, and can be with it")
TEMPLATES_FOR_THE_PERSONS = (
    "your face template (a measurement of your face, which you cannot change as you would a"
    " password), stored encrypted: it cannot be read without keys we keep apart from it")
"""What a notice says of the templates when an incident touches them (GDPR art. 33(3)(a),
34(2); reg. ss. 3, 5): biometric data, encrypted, and what the encryption does and does not
protect; whether the keys went too is the operator's risk assessment, on its own line."""


class Audience(StrEnum):
    REGULATOR = "regulator"
    SUBJECTS = "subjects"


def record(runtime: Runtime, *, actor: Actor, body: IncidentCreate) -> IncidentPublic:
    """Enter an incident in the register (audited), kept five years from awareness.

    An incident touching templates recorded without a risk of serious injury is refused unless
    ``downgrade_reason`` says why: the presumption is that it carries one. The two extra days
    of ``keep_until`` cover the leap days of five years. Its times are past: an awareness
    still to come would push the 72-hour deadline back by as long.
    """
    if body.involves_templates and not body.risk_of_serious_injury and not body.downgrade_reason:
        raise InvalidRequest(
            "an incident touching templates is presumed to risk serious injury: give the"
            " reason for assessing otherwise (downgrade_reason)")
    now = runtime.clock.now()
    for field in ("occurred_from", "occurred_until", "became_aware_at"):
        require_not_future(getattr(body, field), now=now, field=field)
    with runtime.db.transaction() as session:
        row = Incident(
            id=new_id("inc"), recorded_at=now, recorded_by=actor.key_id,
            keep_until=body.became_aware_at + years(KEEP_YEARS),
            **body.model_dump(),
        )
        session.add(row)
        session.flush()
        runtime.audit(session, Entry(action=AuditAction.INCIDENT_RECORDED, actor=actor,
                                     details={"incident_id": row.id,
                                              "risk_of_serious_injury":
                                                  row.risk_of_serious_injury}))
        return public(row, now=now)


def mark_notified(runtime: Runtime, *, actor: Actor, incident_id: str, audience: Audience,
                  delay_reason: str | None = None) -> IncidentPublic:
    """Record (audited) that the regulator or the persons concerned were notified now.

    A notification of the regulator after 72 hours needs ``delay_reason`` (GDPR art. 33(1)),
    kept with the incident and in the audit event; one in time, or to the persons, is refused
    one, so no reason stands for a delay that was not. A second call moves the date: the
    register keeps the latest notice of each audience, and its reason.
    """
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        row = _get(session, incident_id)
        _require_delay_reason(row, audience=audience, now=now, delay_reason=delay_reason)
        if audience is Audience.REGULATOR:
            row.regulator_notified_at = now
            row.regulator_delay_reason = delay_reason
        else:
            row.subjects_notified_at = now
        details = {"incident_id": incident_id, "audience": str(audience)}
        if delay_reason is not None:
            details["delay_reason"] = delay_reason
        runtime.audit(session, Entry(action=AuditAction.INCIDENT_NOTIFIED, actor=actor,
                                     details=details))
        return public(row, now=now)


def _require_delay_reason(row: Incident, *, audience: Audience, now: datetime,
                          delay_reason: str | None) -> None:
    late = audience is Audience.REGULATOR and now > row.became_aware_at + NOTIFY_WITHIN
    if late and delay_reason is None:
        raise InvalidRequest(
            f"the regulator is notified {_hours(now - row.became_aware_at)} h after awareness,"
            " past the 72 hours: give the reasons for the delay (delay_reason)",
            details={"field": "delay_reason"})
    if not late and delay_reason is not None:
        raise InvalidRequest(
            "a delay_reason goes with a notification of the regulator after 72 hours only",
            details={"field": "delay_reason"})


def _hours(span: timedelta) -> float:
    return round(span.total_seconds() / 3600, 1)


def _get(session: Session, incident_id: str) -> Incident:
    return get_row(session, Incident, incident_id, noun="incident", field="incident_id")


def public(row: Incident, *, now: datetime) -> IncidentPublic:
    """The incident with its 72-hour clock: the deadline, the hours left while the regulator
    is not yet notified, and whether the notice came (or is still) late, which stays on the
    record once it is sent, with the hours it took and the reasons for the delay; and whether
    persons at risk of serious injury still wait for theirs."""
    notify_by = row.became_aware_at + NOTIFY_WITHIN
    done = row.regulator_notified_at or now
    return IncidentPublic(
        id=row.id, description=row.description, circumstances=row.circumstances,
        occurred_from=row.occurred_from, occurred_until=row.occurred_until,
        became_aware_at=row.became_aware_at, data_categories=row.data_categories,
        subjects_affected=row.subjects_affected, affected_is_estimate=row.affected_is_estimate,
        quebec_residents=row.quebec_residents, involves_templates=row.involves_templates,
        risk_of_serious_injury=row.risk_of_serious_injury,
        risk_assessment=row.risk_assessment, downgrade_reason=row.downgrade_reason,
        measures_taken=row.measures_taken, measures_suggested=row.measures_suggested,
        recorded_at=row.recorded_at, keep_until=row.keep_until,
        notify_by=notify_by, regulator_notified_at=row.regulator_notified_at,
        regulator_notified_after_hours=_hours(row.regulator_notified_at - row.became_aware_at)
        if row.regulator_notified_at else None,
        regulator_delay_reason=row.regulator_delay_reason,
        subjects_notified_at=row.subjects_notified_at,
        subjects_notice_pending=row.risk_of_serious_injury and row.subjects_notified_at is None,
        hours_left=_hours(notify_by - now) if row.regulator_notified_at is None else None,
        notification_overdue=done > notify_by,
    )


def all_incidents(session: Session, *, now: datetime) -> list[IncidentPublic]:
    rows = session.scalars(select(Incident).order_by(Incident.became_aware_at.desc()))
    return [public(r, now=now) for r in rows]


def _timing(i: IncidentPublic, say: Say) -> str:
    """When the regulator is, or was, notified against the 72 hours, and after them the
    reasons for the delay (GDPR art. 33(1)). A notice generated while late and not yet
    notified says the reasons are still to be given: recording the notification takes them,
    and the notice generated then carries them."""
    if i.regulator_notified_at is None:
        when = say("due by {deadline}, 72 hours after awareness",
                   deadline=i.notify_by.isoformat())
        missing = say("to be given when the notification is recorded (delay_reason)")
    else:
        assert i.regulator_notified_after_hours is not None  # set with the time (public)
        when = say("{at}, {hours} h after awareness", at=i.regulator_notified_at.isoformat(),
                   hours=say.number(i.regulator_notified_after_hours))
        missing = say("none recorded (notified before the reasons were kept)")
    if not i.notification_overdue:
        return when
    reasons = (markdown_text(i.regulator_delay_reason) if i.regulator_delay_reason
               else missing)
    return say("{when}; late, past the 72 hours; reasons for the delay: {reasons}",
               when=when, reasons=reasons)


def notice(session: Session, *, incident_id: str, audience: Audience,
           settings: ConsentSettings, now: datetime, say: Say = english) -> IncidentNotice:
    """The notice to the regulator (reg. s. 3; GDPR art. 33(3)) or to the persons concerned
    (reg. s. 5; GDPR art. 34(2)), from the one record, in the words ``say`` gives (French for
    a reader in Québec: Charter of the French language). What the operator typed stays as
    typed; times stay in ISO 8601, exact in either language."""
    i = public(_get(session, incident_id), now=now)
    a = accountability(settings)
    # Every name and text below was typed by the operator: literal text, never markup.
    md = markdown_text
    contact = say("{name}, {title}, {contact}; DPO {dpo}", name=md(a.privacy_officer_name),
                  title=md(a.privacy_officer_title), contact=md(a.privacy_officer_contact),
                  dpo=md(a.dpo_contact))
    categories = md(", ".join(i.data_categories))
    if i.involves_templates:  # named whatever categories were typed: biometric data
        categories += "; " + say(TEMPLATES_FOR_THE_REGULATOR if audience is Audience.REGULATOR
                                 else TEMPLATES_FOR_THE_PERSONS)
    period = (say("{start} to {end}", start=i.occurred_from.isoformat(),
                  end=i.occurred_until.isoformat()) if i.occurred_until
              else say("from {start}, end unknown", start=i.occurred_from.isoformat()))
    persons = (say("unknown") if i.subjects_affected is None
               else say("about {n}", n=say.number(i.subjects_affected)) if i.affected_is_estimate
               else say.number(i.subjects_affected))
    if audience is Audience.REGULATOR:
        lines = [
            say("# Notice of a confidentiality incident to the regulator ({incident_id})",
                incident_id=i.id),
            say("- **Enterprise**: {name} ({contact})", name=md(a.controller_name),
                contact=md(a.controller_contact)),
            say("- **Contact**: {contact}", contact=contact),
            say("- **Personal information concerned**: {categories}", categories=categories),
            say("- **Description**: {description}", description=md(i.description)),
            say("- **Circumstances and cause**: {circumstances}",
                circumstances=md(i.circumstances)),
            say("- **When**: {period}; became aware {aware}", period=period,
                aware=i.became_aware_at.isoformat()),
            say("- **Persons concerned**: {persons}", persons=persons)
            + (say(", of whom {count} in Québec", count=say.number(i.quebec_residents))
               if i.quebec_residents is not None else ""),
            say("- **Risk of serious injury**: {answer}; {assessment}",
                answer=say("yes" if i.risk_of_serious_injury else "no"),
                assessment=md(i.risk_assessment)),
            say("- **Measures taken**: {measures}", measures=md(i.measures_taken)),
            say("- **Notification of the regulator**: {timing}", timing=_timing(i, say)),
            say("- **Notice to the persons**: {when}",
                when=i.subjects_notified_at.isoformat() if i.subjects_notified_at
                else say("not yet sent")),
        ]
    else:
        lines = [
            say("# A confidentiality incident concerning your information"),
            say("- **What happened**: {description} ({circumstances})",
                description=md(i.description), circumstances=md(i.circumstances)),
            say("- **When**: {period}", period=period),
            say("- **Your information concerned**: {categories}", categories=categories),
            say("- **What we did**: {measures}", measures=md(i.measures_taken)),
            say("- **What you can do**: {measures}", measures=md(i.measures_suggested)),
            say("- **Whom to contact**: {contact}", contact=contact),
            say("- **Your rights**: you can complain to the Commission d'accès à l'information"
                " or your supervisory authority; see {policy}", policy=md(a.policy_url)),
        ]
    return IncidentNotice(incident_id=i.id, audience=str(audience),
                          text="\n".join(lines) + "\n", generated_at=now)
