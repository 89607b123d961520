"""The compliance reviewer's dashboard (``/review``): pages that answer the reviewer's questions.

- ``/review``: the chain's status first, then the alerts, the break-glass openings, the ledger,
  the register and its signing keys.
- ``/review/log``: the access log filtered by subject, purpose, actor, action, outcome and local
  days, paged in SQL newest first (``/review/log.csv``: the same events as a file).
- ``/review/subjects/{pseudonym}``: the searches that returned a subject, then all their events.
- ``/review/searches``: searches per local day and purpose, a chart drawn here, and its CSV.
- ``/review/erasures``: the erasures of a month, each with a page that verifies its receipt.

Read-only: the reviewer's key holds the read permissions only, checked by the consent core.
What a page or download reads of personal data is chained as one ``audit_read`` event naming
the page's path, its filters and the lists it read (:mod:`consent.reads`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from optinface.api.access_log import route_template
from optinface.api.attachments import download
from optinface.api.auditfiles import all_events, audit_csv, audit_json, exported
from optinface.api.csvfiles import csv_text
from optinface.api.deps import ServiceDep
from optinface.api.error_codes import ApiErrorCode
from optinface.api.errors import ApiError
from optinface.api.uploads import InMemoryFormRoute
from optinface.api.web.auth import REVIEW, log_in, log_out, signed_in
from optinface.api.web.charts import Series, bar_chart, colour
from optinface.api.web.i18n import Words
from optinface.api.web.reader_words import document_words
from optinface.api.web.rendering import render, untranslated, words_for
from optinface.api.web.sessions import WebSession
from optinface.consent import erasure_receipts
from optinface.consent.accountability import RIGHTS_REQUEST_DAYS
from optinface.consent.audit import AuditAction
from optinface.consent.break_glass import REVIEW_DAYS
from optinface.consent.identifiers import MAX_LEDGER_INTEGER
from optinface.consent.incidents import KEEP_YEARS, NOTIFY_WITHIN
from optinface.consent.moments import require_in_span
from optinface.consent.reads import Reads
from optinface.consent.receipt_keys import ReceiptKeys
from optinface.consent.roles import Actor
from optinface.consent.ropa import render_ropa
from optinface.consent.schemas import AuditFilter, TombstonePublic
from optinface.consent.service import OptinFace
from optinface.consent.wording import Say

router = APIRouter(include_in_schema=False, route_class=InMemoryFormRoute)

PAGE_SIZE = 50
SEARCH_DAYS = 14
MAX_SEARCH_DAYS = 366
SEARCH_ACTIONS = (AuditAction.IDENTIFY, AuditAction.VERIFY)
SUBJECT_SEARCHES = 100


def _invalid(message: str) -> ApiError:
    return ApiError(ApiErrorCode.VALIDATION_ERROR, message)


def _day(text: str | None, name: str) -> date | None:
    """A day the reviewer typed, in the span the service computes with: the pages add a day or
    a month to it and convert it to UTC, which overflows near years 1 and 9999."""
    try:
        day = date.fromisoformat(text) if text else None
    except ValueError:
        raise _invalid(f"{name} is not a date (YYYY-MM-DD): {text}") from None
    return _in_span(day, name) if day else None


def _require_ordered(since: date | None, until: date | None) -> None:
    """A range of days typed on any page runs forwards: one typed backwards selects nothing,
    which would read as "nothing happened"."""
    if since is not None and until is not None and since > until:
        raise _invalid("choose 'from' before 'to'")


def _in_span(day: date, name: str) -> date:
    try:
        return require_in_span(day)
    except ValueError as e:
        raise _invalid(f"{name}: {e}") from None


def _is_page_number(text: str) -> bool:
    """ASCII digits only, few enough for ``int`` and within the ledger: ``str.isdigit`` alone
    lets "²" and 4,301-digit strings through to an ``int`` that raises (a 500, not a 422)."""
    return (
        text.isascii()
        and text.isdigit()
        and len(text) <= len(str(MAX_LEDGER_INTEGER))
        and 1 <= int(text) <= MAX_LEDGER_INTEGER // PAGE_SIZE
    )


def _midnight(day: date, words: Words) -> datetime:
    """The first instant of a local day."""
    return datetime.combine(day, time(), tzinfo=words.zone)


def _local_day(moment: datetime, words: Words) -> date:
    return moment.astimezone(words.zone).date()


@dataclass(frozen=True, slots=True)
class LogQuery:
    """The access log's filters as the reviewer typed them (kept in the form and the links)."""

    subject: str = ""
    purpose: str = ""
    actor: str = ""
    action: str = ""
    outcome: str = ""
    since: str = ""  # local day, inclusive
    until: str = ""  # local day, inclusive
    page: int = 1

    @classmethod
    def from_request(cls, request: Request, **fixed: str) -> LogQuery:
        """The query in the URL, with ``fixed`` values (the subject of a subject's page)
        overriding it; an unknown action or a page number out of range is a 422, not a 500."""
        values = {f.name: request.query_params.get(f.name, "").strip() for f in fields(cls)}
        values.update(fixed)
        if values["action"] and values["action"] not in set(AuditAction):
            raise _invalid(f"no such action: {values['action']}")
        page = values.pop("page") or "1"
        if not _is_page_number(page):
            raise _invalid(f"not a page number: {page}")
        return cls(page=int(page), **values)

    def audit_filter(self, words: Words) -> AuditFilter:
        """The filter the consent core applies in SQL.

        The reviewer picks days in the deployment's time zone and the log stores UTC: the
        range runs from the first day's local midnight to the midnight after the last day.
        """
        since, until = _day(self.since, "from"), _day(self.until, "to")
        _require_ordered(since, until)
        try:
            return AuditFilter(
                subject=self.subject or None,
                purpose=self.purpose or None,
                actor_key_id=self.actor or None,
                action=AuditAction(self.action) if self.action else None,
                outcome=self.outcome or None,
                since=_midnight(since, words) if since else None,
                until=_midnight(until + timedelta(days=1), words) if until else None,
            )
        except ValidationError as error:  # a malformed subject, purpose or actor: named only
            wrong = ", ".join(sorted({str(e["loc"][0]) for e in error.errors()}))
            raise _invalid(f"not a valid filter: {wrong}") from None

    def link(self, **changes: Any) -> str:
        """This query's URL parameters with ``changes``, empty ones left out."""
        values = {f.name: getattr(self, f.name) for f in fields(self)} | changes
        return "&".join(f"{k}={v}" for k, v in values.items() if v and (k, v) != ("page", 1))


class _Names:
    """Purpose and key names for the ids of the log, fetched once per page."""

    def __init__(self, service: OptinFace, actor: Actor) -> None:
        self.purposes = {p.id: p.name for p in service.list_purposes(actor=actor)}
        self.keys = {k.key_id: k for k in service.key_names(actor=actor)}


# Overview -------------------------------------------------------------------------------------
@router.get("/review")
def review(request: Request, service: ServiceDep) -> Response:
    """The dashboard's overview: the chain's status first, then the consent ledger, the
    register, rights requests and incidents with their legal clocks, and the researcher keys."""
    def build(session: WebSession, actor: Actor) -> Response:
        names = _Names(service, actor)
        chain = service.verify_audit(actor=actor)
        with service.reading(actor=actor, view=route_template(request.scope)) as reads:
            ledger = service.consent_ledger(actor=actor, reads=reads)
            rights_requests = service.rights_requests(actor=actor, reads=reads)
            incidents = service.incidents(actor=actor, reads=reads)
            researcher_keys = _researcher_keys(service, actor, names, reads)
        return render(
            request,
            "review.html",
            csrf=session.csrf,
            chain=chain,
            ledger=ledger,
            register=service.register(actor=actor),
            rights_requests=rights_requests,
            incidents=incidents,
            rights_request_days=RIGHTS_REQUEST_DAYS,
            notify_hours=NOTIFY_WITHIN // timedelta(hours=1),
            incident_keep_years=KEEP_YEARS,
            names=names,
            researcher_keys=researcher_keys,
            alerts=service.anomaly_alerts(actor=actor),
            break_glass=service.break_glass_openings(actor=actor),
            break_glass_days=REVIEW_DAYS,
            untranslated=untranslated(service, request.app.state.settings),
        )

    return signed_in(request, service, REVIEW, build, login_form=True)


def _researcher_keys(service: OptinFace, actor: Actor, names: _Names,
                     reads: Reads) -> list[dict[str, Any]]:
    """Every researcher key ever created, from the audit log, each with its revocation as
    authentication reads it (the key's row: a revocation a restore replayed, or one made in
    plain SQL, is one too): a reviewer sees who may search (a revoked key is marked, never shown
    as able to), and that minting keys cannot multiply searches (the quota also holds per
    purpose)."""
    created = all_events(service, actor, AuditFilter(action=AuditAction.KEY_CREATED),
                         reads=reads).events
    return [{"at": e.at, "key_id": e.details.get("key_id"), "name": e.details.get("name"),
             "by": e.actor_key_id,
             "revoked_at": getattr(names.keys.get(str(e.details.get("key_id"))), "revoked_at",
                                   None)}
            for e in created if e.details.get("role") == "researcher"]


# Access log -----------------------------------------------------------------------------------
def _log_page(request: Request, service: OptinFace, *, template: str, **fixed: str) -> Response:
    def build(session: WebSession, actor: Actor) -> Response:
        """One page of the filtered log, newest first. A subject's page first lists the
        latest searches that returned them (up to :data:`SUBJECT_SEARCHES` of each kind),
        whatever page of their events is shown."""
        words = words_for(request)
        query = LogQuery.from_request(request, **fixed)
        filters = query.audit_filter(words)
        offset = (query.page - 1) * PAGE_SIZE
        with service.reading(actor=actor, view=route_template(request.scope), filters=filters,
                             offset=offset) as reads:
            events = service.audit_events(
                actor=actor,
                filters=filters,
                offset=offset,
                limit=PAGE_SIZE,
                newest_first=True,
                reads=reads,
            )
            searches = []
            if query.subject and template == "review_subject.html":
                for search in SEARCH_ACTIONS:
                    found = service.audit_events(
                        actor=actor,
                        filters=AuditFilter(subject=query.subject, action=search),
                        limit=SUBJECT_SEARCHES,
                        newest_first=True,
                        reads=reads,
                    )
                    searches.extend(found.events)
        searches.sort(key=lambda e: e.seq, reverse=True)
        return render(
            request,
            template,
            csrf=session.csrf,
            query=query,
            fixed_subject=bool(fixed),
            events=events,
            pages=max(math.ceil(events.total / PAGE_SIZE), 1),
            searches=searches,
            names=_Names(service, actor),
            actions=list(AuditAction),
            outcomes=service.audit_outcomes(actor=actor),
        )

    return signed_in(request, service, REVIEW, build, login_form=True)


@router.get("/review/log")
def review_log(request: Request, service: ServiceDep) -> Response:
    return _log_page(request, service, template="review_log.html")


@router.get("/review/subjects/{pseudonym}")
def review_subject(request: Request, service: ServiceDep, pseudonym: str) -> Response:
    return _log_page(request, service, template="review_subject.html", subject=pseudonym)


@router.get("/review/log.csv")
def review_log_csv(request: Request, service: ServiceDep) -> Response:
    def build(session: WebSession, actor: Actor) -> Response:
        filters = LogQuery.from_request(request).audit_filter(words_for(request))
        events = exported(service, actor, filters, view=route_template(request.scope)).events
        return download(audit_csv(events), "audit.csv", "text/csv")

    return signed_in(request, service, REVIEW, build, login_form=True)


# Searches per day and purpose -----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SearchTable:
    days: list[date]
    purposes: list[tuple[str, str]]  # (id, name), the columns
    counts: dict[tuple[date, str], int]

    def count(self, day: date, purpose: str) -> int:
        return self.counts.get((day, purpose), 0)

    def day_total(self, day: date) -> int:
        return sum(self.count(day, p) for p, _ in self.purposes)

    def purpose_total(self, purpose: str) -> int:
        return sum(self.count(d, purpose) for d in self.days)

    @property
    def grand_total(self) -> int:
        return sum(self.counts.values())


def _search_table(
    request: Request, service: OptinFace, actor: Actor
) -> tuple[SearchTable, date, date]:
    words = words_for(request)
    today = _local_day(service.clock.now(), words)
    until = _day(request.query_params.get("until"), "to") or today
    since = _day(request.query_params.get("since"), "from") or until - timedelta(SEARCH_DAYS - 1)
    _require_ordered(since, until)
    if (until - since).days >= MAX_SEARCH_DAYS:
        raise _invalid(f"choose days at most {MAX_SEARCH_DAYS} days apart")
    names = {p.id: p.name for p in service.list_purposes(actor=actor)}
    counts: dict[tuple[date, str], int] = {}
    for row in service.search_counts(
        actor=actor,
        since=_midnight(since, words),
        until=_midnight(until + timedelta(days=1), words),
    ):
        hour = datetime.fromisoformat(f"{row.hour}:00:00+00:00")
        key = (_local_day(hour, words), row.purpose or "")
        counts[key] = counts.get(key, 0) + row.searches
    used = sorted({p for _, p in counts}, key=lambda p: names.get(p, p))
    days = [since + timedelta(days=n) for n in range((until - since).days + 1)]
    table = SearchTable(
        days=days, purposes=[(p, names.get(p, p or "-")) for p in used], counts=counts
    )
    return table, since, until


@router.get("/review/searches")
def review_searches(request: Request, service: ServiceDep) -> Response:
    """Searches per local day and purpose, as a table and a bar chart drawn on the server
    (no script, no CDN); the last two weeks unless ``since``/``until`` say otherwise, at most
    :data:`MAX_SEARCH_DAYS` days."""
    def build(session: WebSession, actor: Actor) -> Response:
        words = words_for(request)
        table, since, until = _search_table(request, service, actor)
        chart = bar_chart(
            [words.day(d).rsplit(" ", 2)[0] for d in table.days],
            [Series(name, [table.count(d, p) for d in table.days]) for p, name in table.purposes],
            title=words("Searches per day and purpose"),
        )
        return render(
            request,
            "review_searches.html",
            csrf=session.csrf,
            table=table,
            since=since,
            until=until,
            chart=chart,
            colours=[colour(i) for i in range(len(table.purposes))],
        )

    return signed_in(request, service, REVIEW, build, login_form=True)


@router.get("/review/searches.csv")
def review_searches_csv(request: Request, service: ServiceDep) -> Response:
    """The same counts as ``/review/searches``, one row per day and purpose, zeros included."""
    def build(session: WebSession, actor: Actor) -> Response:
        table, since, until = _search_table(request, service, actor)
        rows: list[list[Any]] = [["day", "purpose_id", "purpose", "searches"]]
        rows += [
            [d.isoformat(), p, name, table.count(d, p)]
            for d in table.days
            for p, name in table.purposes
        ]
        return download(csv_text(rows), f"searches-{since}-{until}.csv", "text/csv")

    return signed_in(request, service, REVIEW, build, login_form=True)


# Erasures -------------------------------------------------------------------------------------
def _month(request: Request, service: OptinFace, words: Words) -> date:
    text = request.query_params.get("month", "")
    if not text:
        return _local_day(service.clock.now(), words).replace(day=1)
    try:
        first = datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise _invalid(f"month is not YYYY-MM: {text}") from None
    return _in_span(first, "month")  # before the next month is computed from it


def _next_month(first: date) -> date:
    return (first + timedelta(days=32)).replace(day=1)


def _month_erasures(
    request: Request, service: OptinFace, actor: Actor
) -> tuple[date, list[TombstonePublic]]:
    words = words_for(request)
    first = _month(request, service, words)
    start, end = _midnight(first, words), _midnight(_next_month(first), words)
    return first, service.erasures(actor=actor, since=start, until=end)


def _verified(tomb: TombstonePublic, public_key: ReceiptKeys) -> bool:
    """Whether the tombstone's receipt is the deployment's signed receipt of this erasure, as
    the service asks before serving it (:mod:`consent.erasure_receipts`)."""
    return bool(
        tomb.receipt
        and tomb.receipt_signature
        and erasure_receipts.problem(tomb.receipt, tomb.receipt_signature,
                                     subject_hash=tomb.subject_hash, public_key=public_key)
        is None
    )


@router.get("/review/erasures")
def review_erasures(request: Request, service: ServiceDep) -> Response:
    """The erasures of one local month (``month=YYYY-MM``, this month by default), each
    marked by whether its signed receipt verifies under the published key."""
    def build(session: WebSession, actor: Actor) -> Response:
        first, tombs = _month_erasures(request, service, actor)
        keys = service.receipt_keys  # once a page: on a shared ledger a key-store read
        return render(
            request,
            "review_erasures.html",
            csrf=session.csrf,
            month=first,
            previous=(first - timedelta(days=1)).strftime("%Y-%m"),
            following=_next_month(first).strftime("%Y-%m"),
            erasures=[(t, _verified(t, keys)) for t in tombs],
        )

    return signed_in(request, service, REVIEW, build, login_form=True)


@router.get("/review/erasures.json")
def review_erasures_json(request: Request, service: ServiceDep) -> Response:
    def build(session: WebSession, actor: Actor) -> Response:
        first, tombs = _month_erasures(request, service, actor)
        text = json.dumps([t.model_dump(mode="json") for t in tombs], indent=2)
        return download(text, f"erasures-{first:%Y-%m}.json", "application/json")

    return signed_in(request, service, REVIEW, build, login_form=True)


@router.get("/review/erasures/{subject_hash}")
def review_erasure(request: Request, service: ServiceDep, subject_hash: str) -> Response:
    """One erasure, named by its keyed subject hash (the pseudonym is gone): its receipt,
    whether it verifies, and the keys to check it with; with ``.json``, the record as a file."""
    def build(session: WebSession, actor: Actor) -> Response:
        tomb = service.erasure(actor=actor, subject_hash=subject_hash.removesuffix(".json"))
        if subject_hash.endswith(".json"):
            text = tomb.model_dump_json(indent=2)
            return download(text, f"erasure-{tomb.subject_hash[:16]}.json", "application/json")
        keys = service.receipt_keys  # once a page: on a shared ledger a key-store read
        return render(
            request,
            "review_erasure.html",
            csrf=session.csrf,
            tomb=tomb,
            verified=_verified(tomb, keys),
            keys=[*service.published_keys(keys), *service.retired_keys(keys)],
            checks_with=keys.signer_of(tomb.receipt) if tomb.receipt else keys.current,
            receipt=json.dumps(tomb.receipt, indent=2, ensure_ascii=False),
        )

    return signed_in(request, service, REVIEW, build, login_form=True)


# Log in and out, whole-deployment downloads ---------------------------------------------------
@router.post("/review/login")
def review_login(
    request: Request,
    service: ServiceDep,
    token: Annotated[str, Form()],
    csrf: Annotated[str, Form()],
) -> Response:
    return log_in(request, service, REVIEW, token, csrf)


@router.post("/review/logout")
def review_logout(request: Request, service: ServiceDep, csrf: Annotated[str, Form()]) -> Response:
    return log_out(request, service, REVIEW, csrf)


@router.get("/review/download/{name}")
def review_download(request: Request, service: ServiceDep, name: str) -> Response:
    """audit.csv, audit.json, register.json, register.md, ropa.json, ropa.md (the record of
    processing built from that register), ledger.json, erasures.json. One ``audit_read``
    event names the file when it holds personal data (not the register's). The Markdown is in
    the reader's language, as the pages are; the JSON and CSV files are the same in every
    language (English keys and texts, the interface scripts read)."""

    def build(_: WebSession, actor: Actor) -> Response:
        with service.reading(actor=actor, view=request.url.path) as reads:
            say = document_words(words_for(request), service)
            return _produce(service, actor, name, reads, say)

    return signed_in(request, service, REVIEW, build)


def _produce(service: OptinFace, actor: Actor, name: str, reads: Reads, say: Say) -> Response:
    """The download ``name``, its reads of personal data noted in ``reads``, its prose in the
    words ``say`` gives."""
    producers: dict[str, Callable[[], tuple[str, str]]] = {
        "audit.csv": lambda: (
            audit_csv(all_events(service, actor, AuditFilter(), reads=reads).events),
            "text/csv",
        ),
        "audit.json": lambda: (
            audit_json(*all_events(service, actor, AuditFilter(), reads=reads, signed=True)),
            "application/json",
        ),
        "register.json": lambda: (
            service.register(actor=actor).model_dump_json(indent=2),
            "application/json",
        ),
        "register.md": lambda: (
            service.render_register(service.register(actor=actor), say),
            "text/markdown",
        ),
        "ropa.json": lambda: (
            service.ropa(actor=actor).model_dump_json(indent=2),
            "application/json",
        ),
        "ropa.md": lambda: (render_ropa(service.ropa(actor=actor, say=say), say),
                            "text/markdown"),
        "ledger.json": lambda: (
            service.consent_ledger(actor=actor, reads=reads).model_dump_json(indent=2),
            "application/json",
        ),
        "erasures.json": lambda: (
            json.dumps([t.model_dump(mode="json")
                        for t in service.erasures(actor=actor, reads=reads)]),
            "application/json",
        ),
    }
    if name not in producers:
        raise ApiError(ApiErrorCode.NOT_FOUND, f"no download named {name}")
    text, media_type = producers[name]()
    return download(text, name, media_type)
