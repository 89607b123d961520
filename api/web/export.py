"""The access export as people read it: sections of labelled lines, in the reader's language.

The consent core builds the export as data (:func:`consent.access.build_export`); its JSON is an
interface and stays as it is (English prose, field names). Rendering it for people belongs
here, on the pages' side of the layers, so every label goes through the same :class:`~.i18n.Words`
as the pages: the "My data" page, the API's ``format=md|html`` (Accept-Language) and
``optinface export --format md|html --language fr`` all speak the reader's language. Prose the
consent core writes into the data (source, retention rules, rights, matching logic, search
outcomes) comes from its English source strings, listed in :data:`CORE_TEXTS` and translated in
:data:`french.FRENCH` like any page text. What an operator typed in English that the operator
translates (a purpose's texts, the recipients, the person in charge's title, the alternative) is
shown as every page shows it (:class:`consent.operator_texts.Shown`): translated, else in
English followed by "(in English only)" in the reader's words; names and addresses as typed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from html import escape

from optinface.api.web import vocabulary
from optinface.api.web.i18n import Words
from optinface.consent import (
    access,
    consent_form,
    declaration,
    disclosures,
    end_receipts,
    erasure,
    matching,
    register,
    residue,
    retention_policy,
    transfers,
)
from optinface.consent.accountability import RIGHTS
from optinface.consent.audit import AuditAction
from optinface.consent.markdown import markdown_text
from optinface.consent.operator_texts import Shown
from optinface.consent.schemas import (
    AccessExport,
    AuditEventPublic,
    ConsentCapacity,
    ConsentPublic,
    DisclosurePublic,
    ExportFormat,
    ReviewStatus,
    SearchInvolvement,
)
from optinface.consent.settings import ConsentSettings
from optinface.engine import thresholds

_PLACEHOLDERS = ("privacy_officer_name", "privacy_officer_title", "pia_reference",
                 "hosting_provider", "non_biometric_alternative")
CORE_TEXTS: tuple[str, ...] = (
    access.SOURCE, access.EVERYTHING, access.EVERYTHING_RULE, access.CONSENT_HELD,
    access.CONSENT_RULE, access.GUARDIAN_CONSENT_RULE, access.IDENTIFIED, access.CANDIDATE,
    access.NOT_REVIEWED, disclosures.RULE,
    matching.MATCHING_DESCRIPTION, *retention_policy.DATABASE_RULES, *retention_policy.RECORD_RULES,
    retention_policy.LOG_KEPT_WHOLE, retention_policy.LOG_PRUNED,
    retention_policy.LOG_KEPT_WHOLE_HELD, retention_policy.LOG_PRUNED_HELD,
    *(text for row in RIGHTS for text in row),
    register.DEMO_WARNING, register.REFUSED_WARNING, register.ENROLMENT_REFUSED_WARNING,
    register.STALE_WARNING, register.UNACCEPTED_WARNING, register.UNSEALED_TEMPLATES_WARNING,
    register.REVIEWS_WARNING,
    register.EPOCH_PROMISE_WARNING, register.UNBOUND_WARNING,
    *declaration.REFUSALS, thresholds.NOT_CALIBRATED, *transfers.AREAS.values(),
    *erasure.KEPT, end_receipts.KEPT_SUBJECT, residue.SQLITE_AFTER_DESTROYED,
    residue.POSTGRESQL_AFTER_DESTROYED,
    consent_form.CONSENT_SENTENCE,
    *(str(ConsentSettings.model_fields[name].default) for name in _PLACEHOLDERS),
)
"""The consent core's English prose that reaches people (the register's warnings on the
dashboard too, the erasure receipt's page), and the demonstration's placeholder
settings (an operator's own values are shown as written); ``tests/api/test_i18n.py`` checks
that each has its French."""


@dataclass(frozen=True, slots=True)
class Section:
    """One heading of the export and its lines, each a (label, text) pair."""

    anchor: str
    title: str
    lines: list[tuple[str, str]]


def _yes_no(words: Words, value: bool) -> str:
    return words("yes") if value else words("no")


def _word(words: Words, table: dict[str, str], code: str | None) -> str:
    """A code in words (from a vocabulary table), or the code itself when it has none."""
    return words(table[code]) if code in table else str(code or "")


def _by(words: Words, key_id: str | None, role: str | None, purpose: str | None,
        names: dict[str, str]) -> str:
    """", by key (role), for purpose X" as far as it is known."""
    text = ""
    if key_id:
        text += words(", by {key} ({role})", key=key_id,
                      role=_word(words, vocabulary.ROLES, role))
    if purpose:
        text += words(", for {purpose}", purpose=names.get(purpose, purpose))
    return text


def _consent(words: Words, consent: ConsentPublic, names: dict[str, str]) -> tuple[str, str]:
    """A consent, its uses named as the person signed them, in the language they read
    (the receipt's ``wording``, :mod:`consent.consent_form`; before it was signed, today's)."""
    wording = consent.receipt.receipt.get("wording") if consent.receipt else None
    signed = {p["purposeId"]: p["name"] for p in wording["purposes"]} if wording else {}
    uses = ", ".join(signed.get(p) or names.get(p, p) for p in consent.purposes)
    text = words("{status}; notice {version} ({sha}); given by {who} on {when}; ends on {until}",
                 status=_word(words, vocabulary.STATUSES, consent.status),
                 version=consent.notice_version, sha=consent.notice_sha256[:12],
                 who=words("the holder of parental authority")
                 if consent.given_by == ConsentCapacity.PARENTAL_AUTHORITY else words("you"),
                 when=words.when(consent.obtained_at), until=words.when(consent.ends_at))
    if consent.retention_policy_sha256:
        text += words("; retention policy {sha}", sha=consent.retention_policy_sha256[:12])
    if wording:
        text += words("; the text signed was in {language} ({sha})",
                      language=_language_name(words, wording["language"]),
                      sha=wording["sha256"][:12])
    if consent.withdrawn_at:
        text += words("; withdrawn on {when}", when=words.when(consent.withdrawn_at))
    elif consent.guardian_until:
        text += words("; ends on {when}; a consent in your own name to all its uses, given"
                      " before, takes over its photos",
                      when=words.when(consent.guardian_until))
    return words("Consent to {uses}", uses=uses), text


def _language_name(words: Words, code: str) -> str:
    """A language's name in the reader's words (``fr``: French), or its code."""
    return _word(words, vocabulary.LANGUAGES, code)


def _outcome(words: Words, search: SearchInvolvement) -> str:
    """What a search found about the person, in words (the JSON keeps its English)."""
    code = access.refusal_code(search.outcome)
    if code is not None:
        return words("refused ({reason})", reason=_word(words, vocabulary.ERRORS, code))
    if search.score is None:
        return _word(words, vocabulary.OUTCOMES, search.outcome)
    if search.review_status == ReviewStatus.CONFIRMED:
        return words(access.IDENTIFIED)
    status = {str(ReviewStatus.PROVISIONAL): words("awaiting verifiers"),
              str(ReviewStatus.REJECTED): words("rejected by verifiers"),
              str(ReviewStatus.LAPSED): words("closed unreviewed: your consent ended first")}.get(
        search.review_status or "", words(access.NOT_REVIEWED))
    return words(access.CANDIDATE, status=status)


def _search(words: Words, search: SearchInvolvement, names: dict[str, str]) -> tuple[str, str]:
    text = words("{action}: {outcome}", action=_word(words, vocabulary.ACTIONS, search.operation),
                 outcome=_outcome(words, search))
    if search.score is not None:
        text += words(" (score {score})", score=words.number(search.score))
    if search.verifiers:
        text += words(", verifiers {verifiers}", verifiers=", ".join(search.verifiers))
    text += _by(words, search.actor_key_id, search.actor_role, search.purpose, names)
    if search.decision_use:
        text += words("; the caller declared it would base a decision about you on this search"
                      " (automated processing): you may ask for the information and factors"
                      " used, have them rectified, and submit your observations to a person"
                      " who can review it (see your rights)")
    return f"#{search.seq} {words.when(search.at)}", text


def _event(words: Words, event: AuditEventPublic, names: dict[str, str]) -> tuple[str, str]:
    """What happened, in words; a refusal's outcome is the code of what was refused, told as
    the pages tell it (as a refused search is), never as the bare code."""
    action = _word(words, vocabulary.ACTIONS, event.action)
    if event.action == AuditAction.REFUSED:
        text = words("{action} ({reason})", action=action,
                     reason=_word(words, vocabulary.ERRORS, event.outcome))
    else:
        text = words("{action}: {outcome}", action=action,
                     outcome=_word(words, vocabulary.OUTCOMES, event.outcome))
    if copied := event.details.get("template_vectors"):  # an export with the templates
        text += words(", with a copy of your templates ({n})", n=len(copied))
    text += _by(words, event.actor_key_id, event.actor_role, event.purpose, names)
    return f"#{event.seq} {words.when(event.at)}", text


def _disclosure(words: Words, disclosure: DisclosurePublic) -> str:
    """When, on which ground, under which document; where the recipient is, when it was
    recorded; and whether the data left the area whose law protects the person, under which
    of the controller's documents (P-39.1 s. 17; GDPR chapter V)."""
    d = disclosure
    line = words("on {when}, on the ground of {basis} (document {reference})",
                 when=words.when(d.disclosed_at),
                 basis=_word(words, vocabulary.DISCLOSURE_BASES, d.legal_basis),
                 reference=d.document_reference)
    if d.recipient_country:
        place = ", ".join(p for p in (d.recipient_country, d.recipient_region) if p)
        line += "; " + words("recipient in {place}", place=place)
    if d.area_left:
        line += "; " + words("outside {area}, under {assessment}", area=words(d.area_left),
                             assessment=d.transfer_assessment)
    return line


def sections(export: AccessExport, words: Words, shown: Shown) -> list[Section]:
    """The whole export, heading by heading (GDPR art. 15(1)(a)-(h), 15(2); P-39.1 s. 27),
    the operator's texts as ``shown`` gives them to its reader."""
    a, s, m = export.accountability, export.subject, export.matching_logic
    english_only = words("(in English only)")

    def own(text: str) -> str:
        return shown.marked(text, english_only)

    names = {p.id: own(p.name) for p in export.purposes}
    threshold = (words("{value} (calibrated for a false-match rate of {fmr})",
                       value=words.number(m.threshold), fmr=words.percent(m.fmr))
                 if m.threshold is not None and m.fmr is not None  # calibrated: both, or none
                 else words("not calibrated: searches are refused"))
    return [
        Section("accountability", words("Who answers for your data"), [
            (words("Person in charge"), f"{words(a.privacy_officer_name)}, "
             f"{own(a.privacy_officer_title)} ({a.privacy_officer_contact})"),
            (words("Data protection officer"), a.dpo_contact),
            (words("EU representative"), a.eu_representative or words("none designated")),
            (words("Governance policy"), a.policy_url),
            (words("Instead of your face: the non-biometric alternative"),
             own(a.non_biometric_alternative)),
            (words("Where the data are kept"), words(
                "{country}, {region}, by {provider}", country=a.hosting.country,
                region=a.hosting.region, provider=words(a.hosting.provider))),
        ]),
        Section("you", words("You"), [
            (words("Status"), _word(words, vocabulary.STATUSES, s.status)),
            (words("Age bracket"), _word(words, vocabulary.AGE_CATEGORIES, s.age_category)),
            (words("Rules that apply"), _word(words, vocabulary.JURISDICTIONS, s.jurisdiction)),
            (words("Searches among everyone can find you"), _yes_no(words, s.searchable)),
            (words("Registered on"), words.when(s.created_at)),
            (words("Last interaction"), words.when(s.last_interaction_at)),
        ]),
        Section("passkeys", words("Passkeys that act for you ({n})", n=len(export.passkeys)), [
            (words.when(p.registered_at), words("a passkey of the holder of parental authority")
             if p.capacity == ConsentCapacity.PARENTAL_AUTHORITY else words("your own passkey"))
            for p in export.passkeys]),
        Section("consents", words("Consents ({n})", n=len(export.consents)),
                [_consent(words, c, names) for c in export.consents]),
        Section("templates", words("Face templates ({n})", n=len(export.templates)), [
            (words("Template {id}", id=t.id),
             words("model {model}, quality {quality}, made on {when}, under consent {consent}",
                   model=t.model_id, quality=words.number(round(t.quality, 2)),
                   when=words.when(t.created_at), consent=t.consent_id))
            for t in export.templates]),
        Section("purposes", words("Purposes"), [
            (names[p.id] if p.in_force else words("{name} (no longer in force)",
                                                  name=names[p.id]),
             words("{description} ({basis}; kept at most {days} days)",
                   description=own(p.description), basis=own(p.legal_basis),
                   days=p.retention_days))
            for p in export.purposes]),
        Section("recipients", words("Recipients"), [
            (own(r.name), f"{own(r.purpose)} ({own(r.legal_basis)})")
            for r in export.recipients]
            or [(words("none"), words("no one receives your data as a rule; only the"
                                      " disclosures below, each on a ground the law allows")
                 if export.disclosures else words("no one receives your data"))]),
        Section("disclosures", words("Your data disclosed ({n})", n=len(export.disclosures)), [
            (d.recipient, _disclosure(words, d)) for d in export.disclosures]),
        Section("source", words("Where your data come from"),
                [(words("Source"), words(export.source))]),
        Section("retention", words("Retention"), [
            (words.reword(d.what), words("until {when} ({rule})", when=words.when(d.until),
                                         rule=words.reword(d.rule)))
            for d in export.retention]),
        Section("matching", words("How faces are compared"), [
            (words("Model"), m.model_id),
            (words("Threshold"), threshold),
            (words("False non-match rate"), words.percent(m.fnmr) if m.fnmr is not None else "—"),
            (words("How"), words(m.description)),
        ]),
        Section("searches", words("Searches that involved you ({n})", n=len(export.searches)),
                [_search(words, v, names) for v in export.searches]),
        Section("rights", words("Your rights and how to exercise them"), [
            (words(r.right), f"{words.reword(r.how)} ({words(r.basis)})") for r in a.rights]),
        Section("requests", words("Your requests ({n})", n=len(export.rights_requests)), [
            (r.id, words("{kind}, received on {received}, due on {due}: {status}",
                         kind=words(r.kind), received=words.when(r.received_at),
                         due=words.when(r.due_at),
                         status=_word(words, vocabulary.REQUEST_STATUSES, r.status)))
            for r in export.rights_requests]),
        Section("events", words("Events ({n})", n=len(export.events)),
                [_event(words, e, names) for e in export.events]),
    ]


def generated(export: AccessExport, words: Words) -> str:
    return words("Generated on {when} by {controller} ({contact}).",
                 when=words.when(export.generated_at), controller=export.controller_name,
                 contact=export.controller_contact)


def markdown(export: AccessExport, words: Words, shown: Shown) -> str:
    lines = [f"# {words('Data held about {pseudonym}', pseudonym=export.subject.pseudonym)}",
             markdown_text(generated(export, words))]
    for section in sections(export, words, shown):
        lines += ["", f"## {section.title}",
                  *(f"- **{markdown_text(_labelled(words, k))}** {markdown_text(v)}"
                    for k, v in section.lines)]
    return "\n".join(lines) + "\n"


def _labelled(words: Words, label: str) -> str:
    """A line's label with its colon, as the reader's language spaces it ("Seuil :")."""
    return words("{label}:", label=label)


def _html_lines(words: Words, lines: Iterable[tuple[str, str]]) -> str:
    return "".join(f"<li><b>{escape(_labelled(words, k))}</b> {escape(v)}</li>"
                   for k, v in lines)


def html(export: AccessExport, words: Words, shown: Shown) -> str:
    """A standalone HTML document (the API's and the CLI's ``format=html``)."""
    title = escape(words("Data held about {pseudonym}", pseudonym=export.subject.pseudonym))
    body = "".join(f"<section id='{s.anchor}'><h2>{escape(s.title)}</h2>"
                   f"<ul>{_html_lines(words, s.lines)}</ul></section>"
                   for s in sections(export, words, shown))
    return (f"<!doctype html><html lang='{words.language}'><head><meta charset='utf-8'>"
            f"<title>{title}</title></head><body><h1>{title}</h1>"
            f"<p>{escape(generated(export, words))}</p>{body}</body></html>")


def render(export: AccessExport, fmt: ExportFormat, words: Words, shown: Shown) -> str:
    """JSON as the interface has it (never translated), Markdown or HTML in ``words``, the
    operator's texts as ``shown`` gives them."""
    if fmt is ExportFormat.JSON:
        return export.model_dump_json(indent=2)
    return markdown(export, words, shown) if fmt is ExportFormat.MD else html(export, words,
                                                                                shown)
