"""The right of access: everything held about a subject, as data and as a readable page.

No time window and no frequency limit: every consent (withdrawn ones too), every receipt,
every template's existence and model (never the vector), and every audit event naming the
subject, including each search that returned them, with the caller's key and purpose.
"""

from __future__ import annotations

import re
from datetime import datetime
from html import escape

from jinja2 import Environment
from sqlalchemy import ColumnElement, String, cast, select
from sqlalchemy.orm import Session

from optinface.consent.accountability import accountability
from optinface.consent.ledger import consent_public, template_public
from optinface.consent.policies import consent_status
from optinface.consent.schemas import AccessExport, AuditEventPublic, ExportFormat, SubjectPublic
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
{{ h(2) }}Events ({{ e.events | length }})
{% for v in e.events %}{{ item("#" ~ v.seq ~ " " ~ v.at, v.action ~ " " ~ v.outcome
  ~ (" by " ~ v.actor_key_id ~ " (" ~ v.actor_role ~ ")" if v.actor_key_id else "")
  ~ (" for purpose " ~ v.purpose if v.purpose else "")) }}{% endfor %}
"""


def render(export: AccessExport, fmt: ExportFormat) -> str:
    """Markdown, or the same lines as escaped HTML (one layout, so the two never disagree)."""
    markdown = Environment(autoescape=False, keep_trailing_newline=True).from_string(  # noqa: S701
        _TEMPLATE
    ).render(
        e=export,
        heading=lambda level: "#" * level + " ",
        item=lambda key, value: f"- **{key}**: {value}\n",
    )
    return markdown if fmt == "md" else markdown_to_html(markdown)


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


def build_export(
    session: Session,
    *,
    subject: Subject,
    settings: ConsentSettings,
    public_key: str,
    now: datetime,
) -> AccessExport:
    templates = session.scalars(
        select(Template).where(Template.subject_id == subject.id).order_by(Template.id)
    )
    events = session.scalars(
        select(AuditEvent)
        .where(mentions(subject.pseudonym))
        .order_by(AuditEvent.seq)
    )
    return AccessExport(
        generated_at=now,
        controller_name=settings.controller_name,
        controller_contact=settings.controller_contact,
        accountability=accountability(settings),
        subject=SubjectPublic.model_validate(subject),
        consents=[
            consent_public(c, public_key=public_key, status=consent_status(c, now=now))
            for c in sorted(subject.consents, key=lambda c: c.obtained_at)
        ],
        templates=[template_public(t, pseudonym=subject.pseudonym) for t in templates],
        events=[AuditEventPublic.model_validate(event) for event in events],
    )
