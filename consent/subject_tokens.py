"""The person's own subject tokens: listed to them, and revoked by them, one or all at once.

A subject token is a bearer credential for its lifetime (``OPTINFACE_SUBJECT_TOKEN_DAYS``):
whoever copies one acts as the person, erasure and the templates' copy included. So the person
sees their live tokens (issued when, until when, by which passkey: by the keyed hash the log
and the receipts name passkeys by, never the secret) and ends any of them, as an operator
revokes an API key (:func:`consent.apikeys.revoke_audited`): each revoked id journaled in the
witness folder before the deletion commits (:class:`erasure_journal.KeyRevoked`, asked at every
authentication by :class:`consent.journal_ends.JournalEnds`, on every worker that shares the
folder, so a copy of the ledger restored from before, or a row put back by SQL, acts for no
one), the rows deleted and read back gone (:func:`ledger_alterations.require_held`) before it
is answered, and one ``subject_token_revoked`` event naming the ids. A token lists and revokes
only the tokens of its own capacity (the person's own, or their guardian's), as it signs only
with the passkeys of that capacity (:func:`consent.subject_acts.signers`).

Revoking takes power away and destroys nothing of the person's, so, like a log-out, it is not a
signed act. But which tokens to keep is the person's choice, made where their passkey signed
them in: over the API a token revokes itself, or all of the person's tokens at once (the panic
button, which ends the asking token too), never one other token alone (``revoke_other_in_portal``,
:class:`consent.errors.RevokeOtherInPortal`). Otherwise a thief holding one token would cut the
person's other tokens off and keep the stolen one; now the worst a thief can do is end them all,
their own included. The portal's page session (a passkey sign-in) picks one, or all but itself.
Each token's list entry says the day it was last used (:mod:`consent.token_use`), so the person
can spot one they did not use.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from optinface.consent import erasure_journal, ledger, ledger_alterations, row_seals
from optinface.consent.audit import AuditAction, Entry
from optinface.consent.ending_acts import limited
from optinface.consent.errors import NotFound, RevokeOtherInPortal
from optinface.consent.roles import Actor
from optinface.consent.runtime import Runtime
from optinface.consent.schemas import ConsentCapacity, SubjectTokenPublic
from optinface.consent.tables import Subject, SubjectToken


def _live(session: Session, runtime: Runtime, subject: Subject, actor: Actor
          ) -> list[SubjectToken]:
    """The subject's tokens that still authenticate, of ``actor``'s capacity, oldest first:
    unexpired, sealed as theirs, and not revoked in the journal (a row put back after its
    revocation is no live token, and is not listed as one)."""
    now = runtime.clock.now()
    rows = session.scalars(select(SubjectToken).where(
        SubjectToken.subject_id == subject.id, SubjectToken.expires_at > now,
        SubjectToken.capacity == actor.capacity).order_by(SubjectToken.created_at,
                                                          SubjectToken.id))
    return [row for row in rows
            if row_seals.subject_token_sealed(runtime.keys, row, pseudonym=subject.pseudonym)
            and not runtime.journal_ends.key_revoked(row.id)]


def _public(row: SubjectToken, actor: Actor) -> SubjectTokenPublic:
    return SubjectTokenPublic(token_id=row.id, capacity=ConsentCapacity(row.capacity),
                              created_at=row.created_at, expires_at=row.expires_at,
                              issued_by=row.credential_hash, current=row.id == actor.key_id,
                              last_used_on=row.last_used_on,
                              ends_processing_only=limited(row.scope))


def listed(runtime: Runtime, *, actor: Actor, pseudonym: str) -> list[SubjectTokenPublic]:
    """The person's live tokens of ``actor``'s capacity (see :func:`_live`), the one asking
    marked ``current``."""
    with runtime.db.reading() as session:
        subject = ledger.get_subject(session, pseudonym, runtime=runtime)
        return [_public(row, actor) for row in _live(session, runtime, subject, actor)]


def revoke(runtime: Runtime, *, actor: Actor, pseudonym: str, token_id: str | None,
           in_portal: bool = False) -> list[str]:
    """Revoke the person's token ``token_id``, or with None every live one; the ids revoked.
    ``in_portal``: asked from the portal's page session, the person's passkey sign-in, which
    may pick one other token, and whose "all" keeps its own session's token.

    Raises:
        NotFound: ``token_id`` is no live token of this subject in ``actor``'s capacity (another
            subject's, expired, or revoked already), so nothing tells whose another id is.
        RevokeOtherInPortal: outside the portal, ``token_id`` is a live token other than the
            one asking: nothing revoked.
    """
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        subject = ledger.get_subject(session, pseudonym, runtime=runtime)
        live = _live(session, runtime, subject, actor)
        ids = [row.id for row in live if row.id == token_id or (
            token_id is None and not (in_portal and row.id == actor.key_id))]
        if token_id is not None and not ids:
            raise NotFound(f"no live API token {token_id}", details={"token_id": token_id})
        if token_id is not None and token_id != actor.key_id and not in_portal:
            raise RevokeOtherInPortal(
                f"token {token_id} is revoked in the portal, or with all the person's tokens:"
                " a token revokes itself alone", details={"token_id": token_id})
        if not ids:
            return []
        # Journaled before the deletion commits: a copy restored from before revokes them again.
        erasure_journal.record(runtime, *(erasure_journal.KeyRevoked(key_id=revoked, at=now)
                                          for revoked in ids))
        session.execute(delete(SubjectToken).where(SubjectToken.id.in_(ids)))
        runtime.audit(session, Entry(action=AuditAction.SUBJECT_TOKEN_REVOKED, actor=actor,
                                     subjects=[pseudonym], details={"token_ids": ids}))
        # Before it is answered: the ledger holds them gone, and nothing can put them back.
        ledger_alterations.require_held(session, [
            (SubjectToken.__tablename__, SubjectToken.id.in_(ids))])
        return ids
