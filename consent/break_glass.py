"""Break-glass: the one sanctioned way for the operator to get an admin key without one.

When every admin key is lost or revoked, or its holder cannot be reached while an erasure or an
incident cannot wait, the alternative is an edit of the database that nothing records. This
path is the opposite: whoever holds the data directory and the key store may open it, with no
key, but it is loud, short-lived and attributable, and it fails closed:

- loud: the opening is chained in the audit log with its reason, in the transaction of a signed
  checkpoint covering it, and journaled in the witness folder (:mod:`consent.erasure_journal`)
  before it commits; the key is handed over only once the witness holds that checkpoint, so
  truncating the log to hide the opening fails ``audit verify`` against the witness, and a copy
  restored from before it chains it again at its start (:func:`chain_again`). The witness folder
  must already hold the ledger's newest checkpoint, before the command's start writes anything
  there: a new, empty or scratch folder named by a command run apart from the deployment would
  witness nothing a reviewer keeps, and is refused as it was found;
- short-lived: the key it issues expires after at most :data:`MAX_HOURS` hours; reviewers see
  the acts done under it after the expiry the log recorded, so an edit of the key's row that
  lengthens its life shows;
- attributable: every act done with the key names it as its actor, like any other key;
  reviewers see every opening of the last :data:`REVIEW_DAYS` days on their dashboard and at
  ``GET /v1/audit/break-glass``, with the acts done under its key and the keys it created.

What this does not stop: an operator who also controls the witness folder can rewrite both,
and one who can read it can open break-glass against a copy (which holds the newest checkpoint
too), whose checkpoint and journal then reach no folder a reviewer keeps; so can one who first
takes a scratch folder up with ``optinface audit adopt-witness`` (chained as
``witness_adopted``, which truncating the log below it removes too; a plain start there is
refused, :mod:`consent.witness_binding`) or fills one with the checkpoint notes the ledger
keeps. The guarantee is that the sanctioned path, taken where the deployment's witness is,
cannot be hidden afterwards; an
operator holding the data directory and the key store can always act outside it (a raw edit of
the database). The witness is meant for a mount the operator can neither rewrite nor stand in
for (``docs/audit-log.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from optinface.consent import erasure_journal, row_seals
from optinface.consent.activity import filtered
from optinface.consent.apikeys import create_api_key, key_public, revoke_audited
from optinface.consent.audit import AuditAction, Entry, log_time, parse_log_time
from optinface.consent.errors import InvalidRequest, WitnessUnusable
from optinface.consent.identifiers import require_reason
from optinface.consent.keys import KeyRing
from optinface.consent.roles import Role
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import ApiKeyCreated, AuditFilter, BreakGlassPublic
from optinface.consent.tables import ApiKey, AuditCheckpoint, AuditEvent
from optinface.consent.witness import Found, holds

MIN_HOURS = 1
MAX_HOURS = 24
"""A day at most: long enough to mint a proper admin key or finish the urgent act, short
enough that a forgotten break-glass key is not a standing backdoor."""
DEFAULT_HOURS = 4
REVIEW_DAYS = 90
"""How far back reviewers are shown openings: a quarter, the usual period of an access review."""
KEY_NAME = "break-glass"


def is_break_glass(keys: KeyRing, key: ApiKey) -> bool:
    """Whether ``key`` was issued here: only a break-glass opening gives an admin key an expiry
    (the API cannot), and only it names it so; sealed as such (:mod:`consent.row_seals`), so
    a key renamed and given an expiry in the database is not one."""
    return (key.name == KEY_NAME and key.expires_at is not None
            and row_seals.api_key_sealed(keys, key.id, key))


def require_hours(hours: int) -> None:
    """Refuse (``invalid_request``) a lifetime outside :data:`MIN_HOURS`-:data:`MAX_HOURS`."""
    if not MIN_HOURS <= hours <= MAX_HOURS:
        raise InvalidRequest(f"hours must be {MIN_HOURS} to {MAX_HOURS}",
                             details={"field": "hours"})


def require_the_witness_at_start(folder: Path, found: Found) -> None:
    """The witness folder held the ledger's newest signed checkpoint before this process's
    start wrote anything there (:func:`consent.witness.survey`): the start pins its key in a
    new or empty folder and witnesses the head in any folder, so only what it found tells the
    deployment's witness from a scratch folder. The command line checks it before the start
    writes anything (``OptinFace.open(require_witness=True)``), so a refused folder stays as
    it was; :func:`open_audited` checks it again for a service opened otherwise.

    Raises:
        WitnessUnusable: it did not.
    """
    if found.held:
        return
    what, hint = (("pins no checkpoint key (a new or empty folder)", "") if not found.pinned else
                  ("did not hold it", "; a server killed before it witnessed that checkpoint:"
                   " start and stop it once where its witness is, then open again"))
    raise WitnessUnusable(
        f"witness folder {folder} {what}, but the ledger's newest checkpoint covers"
        f" {found.newest} events: break-glass is opened only where the deployment's own witness"
        f" sees it; set OPTINFACE_AUDIT_WITNESS_DIR as the server has it{hint}",
        details={"path": str(folder), "checkpoint": found.newest})


def _require_the_deployments_witness(runtime: Runtime, session: Session) -> None:
    """The witness folder held the ledger's newest checkpoint at start, and holds it now, so it
    is the deployment's own.

    Raises:
        WitnessUnusable: it does not (another folder, or checkpoints it failed to keep).
    """
    folder = runtime.settings.witness_dir
    require_the_witness_at_start(folder, runtime.log.witness.found)
    newest = session.scalars(
        select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc()).limit(1)).first()
    if newest is not None and not holds(folder, size=newest.seq, note=newest.note):
        raise WitnessUnusable(
            f"witness folder {folder} does not hold the ledger's newest checkpoint ({newest.seq}"
            " events): break-glass is opened only where the deployment's own witness sees it;"
            " set OPTINFACE_AUDIT_WITNESS_DIR as the server has it",
            details={"path": str(folder), "checkpoint": newest.seq})


def open_audited(runtime: Runtime, *, reason: str, hours: int) -> ApiKeyCreated:
    """A new admin key that expires in ``hours``, its opening chained with ``reason`` (no actor:
    no key opened it), journaled, and covered by a checkpoint the witness must hold before the
    key is handed over.

    Raises:
        InvalidRequest: ``reason`` or ``hours`` is refused; nothing is created.
        WitnessUnusable: the witness folder is not the deployment's (nothing is created), or it
            did not keep the opening's checkpoint (the key is revoked at once).
    """
    require_reason(reason)
    require_hours(hours)
    now = runtime.clock.now()
    expires_at = now + timedelta(hours=hours)
    folder = runtime.settings.witness_dir
    with runtime.db.transaction() as session:
        _require_the_deployments_witness(runtime, session)
        row, secret = create_api_key(session, role=Role.ADMIN, name=KEY_NAME, keys=runtime.keys,
                                     now=now, expires_at=expires_at)
        runtime.audit(session, Entry(
            action=AuditAction.BREAK_GLASS_OPENED, actor=None,
            details={"key_id": row.id, "reason": reason, "expires_at": log_time(expires_at)}))
        checkpoint = runtime.log.checkpoint(session, now=now)
        size, note = checkpoint.seq, checkpoint.note
        erasure_journal.record(runtime, erasure_journal.BreakGlassOpened(
            key_id=row.id, reason=reason, expires_at=expires_at, at=now))
        made = ApiKeyCreated(**key_public(row).model_dump(), secret=secret)
    if not holds(folder, size=size, note=note):
        revoke_audited(runtime, actor=None, key_id=made.key_id)
        raise WitnessUnusable(
            f"witness folder {folder} did not keep the checkpoint of the opening: its key"
            f" {made.key_id} was revoked at once; make the folder writable and open it again",
            details={"path": str(folder), "checkpoint": size})
    return made


def chain_again(runtime: Runtime, journal: Sequence[erasure_journal.Entry],
                session: Session) -> int:
    """Chain again, in ``session``, each opening the journal holds and the log does not (a copy
    restored from before it), dated as the journal dates it; how many. The key itself is not
    brought back: the copy never held it, so it opens nothing there."""
    journaled = [entry for entry in journal
                 if isinstance(entry, erasure_journal.BreakGlassOpened)]
    if not journaled:
        return 0
    chained = {event.details.get("key_id") for event in session.scalars(
        filtered(AuditFilter(action=AuditAction.BREAK_GLASS_OPENED)))
        if isinstance(event.details, dict)}
    lost = [entry for entry in journaled if entry.key_id not in chained]
    for entry in lost:
        runtime.audit(session, Entry(
            action=AuditAction.BREAK_GLASS_OPENED, actor=None,
            details={"key_id": entry.key_id, "reason": entry.reason,
                     "expires_at": log_time(entry.expires_at), "opened_at": log_time(entry.at),
                     "replayed": True}))
    return len(lost)


def openings(session: Session, *, since: datetime) -> list[BreakGlassPublic]:
    """The openings chained since ``since``, newest first, each with what was done under its
    key; an opening whose details were edited past reading is listed as such, never raised
    (the chain's check says where the log was edited)."""
    return [_opening(session, event) for event in session.scalars(
        filtered(AuditFilter(action=AuditAction.BREAK_GLASS_OPENED, since=since))
        .order_by(AuditEvent.seq.desc()))]


def _opening(session: Session, event: AuditEvent) -> BreakGlassPublic:
    details = event.details if isinstance(event.details, dict) else {}
    expires_at = parse_log_time(details.get("expires_at"))
    opened_at = parse_log_time(details.get("opened_at", event.at))
    if "key_id" not in details or "reason" not in details or expires_at is None \
            or opened_at is None:
        return BreakGlassPublic(seq=event.seq, readable=False)
    key_id, reason = str(details["key_id"]), str(details["reason"])
    under_key = AuditEvent.actor_key_id == key_id
    created = session.scalars(select(AuditEvent.details).where(
        under_key, AuditEvent.action == str(AuditAction.KEY_CREATED)))
    return BreakGlassPublic(
        seq=event.seq, key_id=key_id, reason=reason, opened_at=opened_at,
        expires_at=expires_at, replayed=details.get("replayed") is True,
        revoked_at=session.scalar(select(ApiKey.revoked_at).where(ApiKey.id == key_id)),
        acts=session.scalar(select(func.count()).select_from(AuditEvent).where(under_key)) or 0,
        acts_after_expiry=session.scalar(select(func.count()).select_from(AuditEvent).where(
            under_key, AuditEvent.at > log_time(expires_at))) or 0,
        keys_created=[str(made["key_id"]) for made in created
                      if isinstance(made, dict) and "key_id" in made])
