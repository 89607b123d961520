"""The reviewer's views: the audit chain, the consent ledger, erasures and the register.

Retention sweeps and the declaration (administrator) live here too: they are the operations the
register reports on.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from optinface.api.access_log import route_template
from optinface.api.attachments import MARKDOWN_ANSWER, download, markdown
from optinface.api.auditfiles import MAX_PAGE, audit_csv, audit_json, exported
from optinface.api.deps import ReaderWords, ServiceDep, require
from optinface.api.schemas import (
    AuditExportFormat,
    DeclarationCreate,
    RegisterFormat,
    RegulatorOrderCreate,
)
from optinface.api.uploads import InMemoryFormRoute
from optinface.api.web.reader_words import document_words
from optinface.consent.audit import AuditAction
from optinface.consent.errors import InvalidRequest
from optinface.consent.identifiers import (
    MAX_INTEGER_COLUMN,
    MAX_LEDGER_INTEGER,
    Identifier,
    Reference,
)
from optinface.consent.moments import Moment
from optinface.consent.roles import Actor, Permission
from optinface.consent.ropa import render_ropa
from optinface.consent.schemas import (
    AnomalyAlert,
    AuditFilter,
    AuditPage,
    BreakGlassPublic,
    ChainStatus,
    CheckpointPublic,
    ConsentLedger,
    ConsistencyProof,
    ExportedEvent,
    Register,
    RightsRequestAnswer,
    RightsRequestPublic,
    Ropa,
    SweepReport,
    TombstonePublic,
)

router = APIRouter(tags=["audit and register"], route_class=InMemoryFormRoute)

AuditReader = Annotated[Actor, require(Permission.READ_AUDIT)]
LedgerReader = Annotated[Actor, require(Permission.READ_LEDGER)]
Declarant = Annotated[Actor, require(Permission.DECLARE)]
RequestAnswerer = Annotated[Actor, require(Permission.ANSWER_REQUESTS)]
RegisterReader = Annotated[Actor, require(Permission.READ_REGISTER)]
FormatQuery = Annotated[RegisterFormat, Query(alias="format")]


def audit_filter(
    action: AuditAction | None = None,
    subject: Identifier | None = None,
    actor_key_id: Identifier | None = None,
    purpose: Identifier | None = None,
    outcome: Identifier | None = None,
    since: Annotated[Moment | None, Query(description="ISO time with its offset, inclusive.")
                     ] = None,
    until: Annotated[Moment | None, Query(description="ISO time with its offset, exclusive.")
                     ] = None,
) -> AuditFilter:
    """The log's filters as query parameters, one definition for the events page, the
    export and ``optinface audit export`` (which validates its options with it). Identifiers
    are checked as :data:`Identifier` and times as :data:`Moment` (an instant, whatever its
    offset): a malformed one is a 422 before any query runs, and so is a range backwards,
    which would select nothing and read as "nothing happened" (the reviewer's pages refuse it
    too)."""
    if since is not None and until is not None and since > until:
        raise InvalidRequest("since is after until: choose since before until",
                             details={"field": "since"})
    return AuditFilter(
        action=action,
        subject=subject,
        actor_key_id=actor_key_id,
        purpose=purpose,
        outcome=outcome,
        since=since,
        until=until,
    )


AuditFilterDep = Annotated[AuditFilter, Depends(audit_filter)]


@router.get("/audit/events")
def audit_events(
    service: ServiceDep,
    actor: AuditReader,
    filters: AuditFilterDep,
    offset: Annotated[int, Query(ge=0, le=MAX_LEDGER_INTEGER)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> AuditPage:
    """The hash-chained audit events, filtered and paged; no biometric data is ever in them."""
    return service.audit_events(actor=actor, filters=filters, offset=offset, limit=limit)


@router.get("/audit/verify")
def verify_audit(service: ServiceDep, actor: AuditReader) -> ChainStatus:
    """Recompute the chain and the tree against every signed and witnessed checkpoint: an edit,
    deletion, reordering, truncation or rewrite names the first inconsistency."""
    return service.verify_audit(actor=actor)


@router.get("/audit/alerts")
def anomaly_alerts(service: ServiceDep, actor: AuditReader) -> list[AnomalyAlert]:
    """Researcher keys whose last 24 hours of searches form an enumeration pattern: many
    searches finding no one, repeated refusals, verifies against many subjects."""
    return service.anomaly_alerts(actor=actor)


@router.get("/audit/break-glass")
def break_glass_openings(service: ServiceDep, actor: AuditReader) -> list[BreakGlassPublic]:
    """Every break-glass opening of the last 90 days, newest first: the emergency admin keys
    issued with no key (``optinface keys break-glass``), each with its reason, expiry,
    revocation and how many audited acts were done under it."""
    return service.break_glass_openings(actor=actor)


@router.get("/audit/consistency")
def audit_consistency(
    service: ServiceDep,
    actor: AuditReader,
    first: Annotated[int, Query(ge=1, le=MAX_INTEGER_COLUMN,
                                description="Tree size of the older checkpoint (at least"
                                            " 1: a checkpoint holds its own event).")],
    second: Annotated[int | None, Query(ge=1, le=MAX_INTEGER_COLUMN,
                                        description="Tree size of the newer one"
                                                    " (default: the whole log).")] = None,
) -> ConsistencyProof:
    """RFC 9162 consistency proof between two tree sizes: verify it against the root hashes of
    two checkpoints you kept, and the newer log provably extends the older one."""
    return service.audit_consistency(actor=actor, first=first, second=second)


@router.post("/audit/checkpoints")
def audit_checkpoint(
    service: ServiceDep, actor: Annotated[Actor, require(Permission.CHECKPOINT_AUDIT)]
) -> CheckpointPublic:
    """Sign the log's current tree head (a C2SP checkpoint, also written to the witness folder):
    keep the answer, and ``optinface audit verify --against FILE`` later proves the log still
    holds every event it covers, unchanged."""
    return service.audit_checkpoint(actor=actor)


@router.get(
    "/audit/export",
    response_model=list[ExportedEvent],
    responses={200: {"content": {"text/csv": {}}}},
)
def export_audit(
    request: Request,
    service: ServiceDep,
    actor: AuditReader,
    filters: AuditFilterDep,
    export_format: Annotated[AuditExportFormat, Query(alias="format")] = AuditExportFormat.JSON,
) -> Response:
    """Every matching event at once, as a JSON array or CSV (details as a JSON column); the
    export is chained as one ``audit_read``. The JSON's event that the newest signed checkpoint
    covering it ends at carries that checkpoint's note (``checkpoint``)."""
    json_format = export_format is AuditExportFormat.JSON
    events, note = exported(service, actor, filters, view=route_template(request.scope),
                            signed=json_format)
    if json_format:
        return download(audit_json(events, note), "audit.json", "application/json")
    return download(audit_csv(events), "audit.csv", "text/csv")


@router.get("/ledger")
def consent_ledger(service: ServiceDep, actor: LedgerReader) -> ConsentLedger:
    """Consents by status (active, withdrawn, expired) and by purpose."""
    return service.consent_ledger(actor=actor)


@router.get("/erasures")
def erasures(service: ServiceDep, actor: LedgerReader) -> list[TombstonePublic]:
    """Tombstones with their signed receipts: proof that erasure happened, with no biometrics."""
    return service.erasures(actor=actor)


@router.get("/register", response_model=Register, responses=MARKDOWN_ANSWER)
def register(service: ServiceDep, actor: RegisterReader, words: ReaderWords,
             register_format: FormatQuery = RegisterFormat.JSON) -> Register | Response:
    """The register of the biometric database (LCCJTI art. 45, GDPR art. 30), from live figures.
    The Markdown is in French with ``lang=fr`` or a French ``Accept-Language`` (else the
    deployment's default language); the JSON is the same in every language, its keys and its
    English texts those the declaration's material SHA-256 is computed from."""
    current = service.register(actor=actor)
    if register_format is RegisterFormat.MD:
        return markdown(service.render_register(current, document_words(words, service)))
    return current


@router.get("/register/ropa", response_model=Ropa, responses=MARKDOWN_ANSWER)
def ropa(service: ServiceDep, actor: RegisterReader, words: ReaderWords,
         register_format: FormatQuery = RegisterFormat.JSON) -> Ropa | Response:
    """The record of processing activities (GDPR art. 30(1)), generated from the register of
    the same instant: each entry names the point it answers, and the record names the
    register's material SHA-256. The Markdown speaks the reader's language as the register's
    does; the JSON is always English."""
    if register_format is RegisterFormat.MD:
        say = document_words(words, service)
        return markdown(render_ropa(service.ropa(actor=actor, say=say), say))
    return service.ropa(actor=actor)


@router.post("/register/declaration")
def declare(body: DeclarationCreate, service: ServiceDep, actor: Declarant) -> Register:
    """Record the declaration of the register as it stands; matching opens once its period
    (60 days) has run, and closes again when a material field of the register changes."""
    return service.declare(actor=actor, date=body.date, reference=body.reference)


@router.get("/requests")
def rights_requests(service: ServiceDep, actor: RequestAnswerer) -> list[RightsRequestPublic]:
    """Every rights request with its 30-day deadline, open ones first; ``due_soon`` flags an
    open one with 7 days or less left (the alert before the deadline), ``overdue`` a late one."""
    return service.rights_requests(actor=actor)


@router.post("/requests/{request_id}/answer")
def answer_request(
    request_id: Identifier,
    body: RightsRequestAnswer,
    service: ServiceDep,
    actor: RequestAnswerer,
) -> RightsRequestPublic:
    """Record the answer given to a rights request (and when: late answers stay flagged).

    ``outcome: refused`` is a reviewer's decision that the request is manifestly unfounded or
    excessive (GDPR art. 12(5)): it needs its ``ground`` and written ``reasons``, which the
    person sees with their right to complain; without them, or with an unknown ground, the
    answer is a 422 ``validation_error``. Nothing refuses a request by itself."""
    return service.answer_right(actor=actor, request_id=request_id, body=body)


@router.post("/register/orders")
def apply_order(body: RegulatorOrderCreate, service: ServiceDep, actor: Declarant) -> Register:
    """Apply a regulator's order: enrolment and matching suspended; with ``destroy``, every
    template destroyed, each subject with a signed erasure receipt. A reference names one
    order: while an order under it is in force, a repeat (of either kind) is a 409
    ``order_in_force`` and records nothing."""
    return service.apply_regulator_order(actor=actor, reference=body.reference,
                                         destroy=body.destroy)


@router.post("/register/orders/{reference}/lift")
def lift_order(reference: Reference, service: ServiceDep, actor: Declarant) -> Register:
    """The regulator lifted its order: enrolment and matching resume (if declared). A 422
    ``invalid_request`` when no order under ``reference`` is in force (never applied, or lifted
    already)."""
    return service.lift_regulator_order(actor=actor, reference=reference)


@router.post("/sweep")
def sweep(service: ServiceDep, actor: Annotated[Actor, require(Permission.SWEEP)]) -> SweepReport:
    """Run the retention sweep now (the server also runs it periodically)."""
    return service.sweep(actor=actor)
