"""The right of access: everything held about a subject, as data and as a readable page.

No time window and no frequency limit: every consent (withdrawn ones too), every receipt,
every template's existence and model (never the vector), and every audit event naming the
subject, including each verify and identify that involved them whatever the outcome (a 1:1
verify that found no candidate too), with the caller's key and purpose; the purposes' texts,
recipients, retention dates, the matching logic, the rights and the person in charge (GDPR
art. 15(1)(a)-(h), 15(2); P-39.1 s. 27). Never another subject's pseudonym or score, nor the
size of the gallery searched.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html import escape

from jinja2 import Environment
from sqlalchemy import ColumnElement, String, cast, select
from sqlalchemy.orm import Session

from optinface.consent import review, rights_requests
from optinface.consent.accountability import accountability
from optinface.consent.ledger import consent_public, template_public
from optinface.consent.policies import consent_status
from optinface.consent.schemas import (
    AccessExport,
    AuditEventPublic,
    ExportFormat,
    MatchingLogic,
    PurposePublic,
    RetentionDate,
    ReviewPublic,
    ReviewStatus,
    SearchInvolvement,
    SubjectPublic,
    current_outcome,
)
from optinface.consent.settings import ConsentSettings
from optinface.consent.tables import AuditEvent, Subject, Template

_BOLD = re.compile(r"\*\*(.+?)\*\*")

_TEMPLATE = """\
{% set h = heading %}{{ h(1) }}Data held about {{ e.subject.pseudonym }}
Generated {{ e.generated_at.isoformat() }} by {{ e.controller_name }} ({{ e.controller_contact }}).

{% set a = e.accountability %}\
{{ h(2) }}Who answers for your data
{{ item("person in charge", a.privacy_officer_name ~ ", " ~ a.privacy_officer_title ~ " ("
  ~ a.privacy_officer_contact ~ ")") }}{{ item("data protection officer", a.dpo_contact) }}\
{{ item("EU representative", a.eu_representative or "none designated") }}\
{{ item("policy", a.policy_url) }}\
{{ item("non-biometric alternative", a.non_biometric_alternative) }}\
{{ item("hosting", a.hosting.country ~ ", " ~ a.hosting.region ~ ", by " ~ a.hosting.provider) }}
{{ h(2) }}Subject
{{ item("status", e.subject.status) }}{{ item("age category", e.subject.age_category) }}\
{{ item("jurisdiction", e.subject.jurisdiction) }}{{ item("searchable", e.subject.searchable) }}\
{{ item("created", e.subject.created_at.isoformat()) }}\
{{ item("last interaction", e.subject.last_interaction_at.isoformat()) }}
{{ h(2) }}Consents ({{ e.consents | length }})
{% for c in e.consents %}{{ item(c.id, c.status ~ ", purposes " ~ c.purposes | join(", ")
  ~ ", notice " ~ c.notice_version ~ " (" ~ c.notice_sha256[:12] ~ "), " ~ c.method ~ " by "
  ~ c.given_by ~ ", obtained " ~ c.obtained_at.isoformat() ~ ", expires "
  ~ c.expires_at.isoformat() ~ (", withdrawn " ~ c.withdrawn_at.isoformat()
  if c.withdrawn_at else "")) }}{% endfor %}
{{ h(2) }}Face templates ({{ e.templates | length }})
{% for t in e.templates %}{{ item("template " ~ t.id, "model " ~ t.model_id ~ ", quality "
  ~ "%.2f" | format(t.quality) ~ ", created " ~ t.created_at.isoformat() ~ ", consent "
  ~ t.consent_id) }}{% endfor %}
{{ h(2) }}Purposes
{% for p in e.purposes %}{{ item(p.name, p.description ~ " (" ~ p.legal_basis ~ "; kept at most "
  ~ p.retention_days ~ " days)") }}{% endfor %}
{{ h(2) }}Recipients
{% for r in e.recipients %}{{ item(r.name, r.purpose ~ " (" ~ r.legal_basis ~ ")") }}\
{% else %}{{ item("none", "no one receives your data") }}{% endfor %}
{{ h(2) }}Source
{{ item("source", e.source) }}
{{ h(2) }}Retention
{% for d in e.retention %}{{ item(d.what, "until " ~ d.until.isoformat() ~ " (" ~ d.rule ~ ")")
  }}{% endfor %}
{{ h(2) }}How faces are compared
{% set m = e.matching_logic %}{{ item("model", m.model_id) }}\
{{ item("threshold", m.threshold if m.threshold is not none else "not calibrated: no matching")
  }}{{ item("false-match rate", m.fmr) }}{{ item("false non-match rate", m.fnmr) }}\
{{ item("logic", m.description) }}
{{ h(2) }}Searches that involved you ({{ e.searches | length }})
{% for v in e.searches %}{{ item("#" ~ v.seq ~ " " ~ v.at, v.operation ~ ": " ~ v.outcome
  ~ (" (score " ~ v.score ~ ")" if v.score is not none else "")
  ~ (", verifiers " ~ v.verifiers | join(", ") if v.verifiers else "")
  ~ (" by " ~ v.actor_key_id ~ " (" ~ v.actor_role ~ ")" if v.actor_key_id else "")
  ~ (" for purpose " ~ v.purpose if v.purpose else "")) }}{% endfor %}
{{ h(2) }}Your rights and how to exercise them
{% for r in a.rights %}{{ item(r.right, r.how ~ " (" ~ r.basis ~ ")") }}{% endfor %}
{{ h(2) }}Your requests ({{ e.rights_requests | length }})
{% for r in e.rights_requests %}{{ item(r.id, r.kind ~ ", received " ~ r.received_at.isoformat()
  ~ ", due " ~ r.due_at.isoformat() ~ ", " ~ r.status) }}{% endfor %}
{{ h(2) }}Events ({{ e.events | length }})
{% for v in e.events %}{{ item("#" ~ v.seq ~ " " ~ v.at, v.action ~ " " ~ now(v.outcome)
  ~ (" by " ~ v.actor_key_id ~ " (" ~ v.actor_role ~ ")" if v.actor_key_id else "")
  ~ (" for purpose " ~ v.purpose if v.purpose else "")) }}{% endfor %}
"""


def render(export: AccessExport, fmt: ExportFormat) -> str:
    """JSON, Markdown, or the same lines as escaped HTML (one layout, so the pages never
    disagree)."""
    if fmt == ExportFormat.JSON:
        return export.model_dump_json(indent=2)
    markdown = Environment(autoescape=False, keep_trailing_newline=True).from_string(  # noqa: S701
        _TEMPLATE
    ).render(
        e=export,
        heading=lambda level: "#" * level + " ",
        item=lambda key, value: f"- **{key}**: {value}\n",
        now=current_outcome,
    )
    return markdown if fmt == ExportFormat.MD else markdown_to_html(markdown)


def markdown_to_html(markdown: str) -> str:
    """The small Markdown subset the renderers produce (headings, bullets, bold keys)."""
    parts = ["<!doctype html><html><head><meta charset='utf-8'></head><body>"]
    in_list = False
    for line in markdown.splitlines():
        text = escape(line)
        is_item = text.startswith("- ")
        if in_list and not is_item:
            parts.append("</ul>")
        if is_item and not in_list:
            parts.append("<ul>")
        in_list = is_item
        if text.startswith("#"):
            level = len(text) - len(text.lstrip("#"))
            parts.append(f"<h{level}>{text[level:].strip()}</h{level}>")
        elif is_item:
            item = _BOLD.sub(r"<b>\1</b>", text[2:])
            parts.append(f"<li>{item}</li>")
        elif text.strip():
            parts.append(f"<p>{text}</p>")
    parts.append("</ul></body></html>" if in_list else "</body></html>")
    return "".join(parts)


def mentions(pseudonym: str) -> ColumnElement[bool]:
    """Audit events naming ``pseudonym``.

    Pseudonyms are random hex tokens, so a quoted substring match on the JSON list is exact.
    """
    return cast(AuditEvent.subjects, String).contains(f'"{pseudonym}"')


SEARCHES = {"verify", "identify"}
# Details that describe other people or the gallery: never in someone's export.
_NOT_YOURS = {"gallery_size", "scores", "k", "review_ids"}


def own_view(event: AuditEvent, pseudonym: str) -> AuditEventPublic:
    """The event as its subject may see it: their own pseudonym only, no gallery size, no
    other candidate's score (the chain hashes stay, so the event can still be checked)."""
    public = AuditEventPublic.model_validate(event)
    details = {k: v for k, v in public.details.items() if k not in _NOT_YOURS}
    return public.model_copy(update={"subjects": [pseudonym], "details": details})


def _involvement(event: AuditEvent, pseudonym: str,
                 reviews: dict[str, ReviewPublic]) -> SearchInvolvement | None:
    """A search as its subject sees it; "identified" only once verifiers confirmed it."""
    refused = event.action == "refused" and event.details.get("attempted") in SEARCHES
    if event.action not in SEARCHES and not refused:
        return None
    score = (event.details.get("scores") or {}).get(pseudonym)
    checked = reviews.get((event.details.get("review_ids") or {}).get(pseudonym, ""))
    if refused:
        outcome = f"refused: {event.outcome}"
    elif score is None:
        outcome = "no_candidate"
    elif checked is not None and checked.status == ReviewStatus.CONFIRMED:
        outcome = "identified (confirmed by verifiers)"
    else:
        outcome = f"candidate ({checked.status if checked else 'not reviewed'}), not an" \
                  " identification"
    return SearchInvolvement(
        seq=event.seq, at=event.at,
        operation=str(event.details.get("attempted", event.action)),
        outcome=outcome,
        purpose=event.purpose, actor_key_id=event.actor_key_id, actor_role=event.actor_role,
        score=round(score, 2) if score is not None else None,
        review_status=checked.status if checked else None,
        verifiers=checked.verifiers if checked else [],
    )


def _retention(subject: Subject, settings: ConsentSettings) -> list[RetentionDate]:
    dates = [RetentionDate(
        what="everything held about you", rule="3 years after your last interaction at most",
        until=subject.last_interaction_at + timedelta(
            days=365 * settings.retention_years_after_last_interaction))]
    for consent in subject.consents:
        dates.append(RetentionDate(what=f"consent {consent.id} and its templates",
                                   until=min(consent.expires_at, consent.retained_until),
                                   rule="the consent's expiry or its purposes' retention,"
                                   " whichever comes first"))
    return dates


def build_export(
    session: Session,
    *,
    subject: Subject,
    settings: ConsentSettings,
    public_key: str,
    logic: MatchingLogic,
    now: datetime,
) -> AccessExport:
    """Everything GDPR art. 15(1)(a)-(h) and 15(2) and P-39.1 s. 27 give access to."""
    templates = session.scalars(
        select(Template).where(Template.subject_id == subject.id).order_by(Template.id)
    )
    events = list(session.scalars(
        select(AuditEvent).where(mentions(subject.pseudonym)).order_by(AuditEvent.seq)
    ))
    purposes = {p.id: p for c in subject.consents for p in c.purposes}
    reviews = {r.id: r for r in review.of_candidate(session, subject.pseudonym)}
    return AccessExport(
        generated_at=now,
        controller_name=settings.controller_name,
        controller_contact=settings.controller_contact,
        accountability=accountability(settings),
        purposes=[PurposePublic.model_validate(p) for p in purposes.values()],
        recipients=list(settings.recipients),
        source="you: the photos you (or the holder of parental authority) submitted at"
        " enrolment; photos are discarded once the template is made",
        retention=_retention(subject, settings),
        matching_logic=logic,
        searches=[s for s in (_involvement(e, subject.pseudonym, reviews) for e in events) if s],
        rights_requests=rights_requests.of_subject(session, subject, now=now),
        subject=SubjectPublic.model_validate(subject),
        consents=[
            consent_public(c, public_key=public_key, status=consent_status(c, now=now))
            for c in sorted(subject.consents, key=lambda c: c.obtained_at)
        ],
        templates=[template_public(t, pseudonym=subject.pseudonym) for t in templates],
        events=[own_view(event, subject.pseudonym) for event in events],
    )
