"""A subject who stays when some of their templates are destroyed gets a new data key.

Every template of a subject is encrypted under the subject's one data key
(:func:`consent.ledger.data_key`), wrapped under the epoch key of the time. An erasure deletes
that key with the templates, so a copy made before (a backup, a snapshot, PostgreSQL's old row
versions) holds them under a key that lives on only wrapped under that epoch key, which the
next rotation destroys (:mod:`consent.epochs`). A template destroyed while its subject stays
(its consent ended or was withdrawn while another keeps the subject, the template replaced,
the non-biometric alternative chosen, a restore's replay of those) left that key in force,
and a rotation re-wraps the same key: whoever held such a copy, the live ledger and the key
store could open the destroyed template for as long as the subject lived.

So each such destruction renews the key in its own transaction (:func:`renew`, from
:func:`consent.erasure.destroy_templates`): the subject's remaining templates are encrypted
again under a new key and the key's row is replaced; a subject left with no template loses the
row (their next enrolment makes one). A subject left with no consent in force is not renewed:
nothing keeps them, their erasure follows (the withdrawal of their last consent, the sweep)
and deletes the key, as its receipt states. A copy's destroyed templates then fall with their epoch,
as an erasure's do. Each template keeps its nonce: the erasure journal names a template by it
(:func:`consent.erasure_journal.template_ref`), so a restored copy's replay still finds the
ones destroyed since; the key being new, no nonce serves twice under one key.

A key or template that does not open (edited in the database) is not renewed: the destruction
goes on, the subject's key stays as it was, and an error line says so; the start leaves out
and destroys what does not open (:mod:`consent.reconcile`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from optinface.consent.audit import AuditAction, Entry
from optinface.consent.crypto import new_key
from optinface.consent.db import IN_CHUNK
from optinface.consent.errors import KeyUnavailable
from optinface.consent.keys import KeyRing
from optinface.consent.ledger import decrypt_template, encrypt_template, wrap_data_key
from optinface.consent.policies import in_force
from optinface.consent.runtime import Runtime
from optinface.consent.tables import Consent, Subject, SubjectKey, Template

logger = logging.getLogger(__name__)


def renew(session: Session, subject_ids: Collection[int], *, keys: KeyRing,
          now: datetime) -> int:
    """Give each of ``subject_ids`` that has a key and a consent in force a new key, their
    remaining templates encrypted again under it (none left: the key row goes), once the
    templates destroyed are deleted in ``session``; how many keys were renewed or deleted. The
    caller commits."""
    renewed = 0
    staying = set(session.scalars(select(Consent.subject_id).where(
        Consent.subject_id.in_(set(subject_ids)), in_force(now)))) - {None}
    # Three reads for all of them, not three a subject (the start's renewal of a whole ledger).
    rows = {row.subject_id: row for row in session.scalars(
        select(SubjectKey).where(SubjectKey.subject_id.in_(staying)))}
    subjects = {subject.id: subject for subject in session.scalars(
        select(Subject).where(Subject.id.in_(list(rows))))}
    templates: dict[int, list[Template]] = defaultdict(list)
    for template in session.scalars(select(Template).where(Template.subject_id.in_(list(rows)))):
        templates[template.subject_id].append(template)
    for subject_id, row in rows.items():
        subject = subjects.get(subject_id)
        if subject is None:
            continue
        if not templates[subject_id]:
            session.delete(row)
        elif not _encrypt_again(session, subject, row, templates[subject_id], keys=keys,
                                now=now):
            continue
        renewed += 1
    return renewed


def _encrypt_again(session: Session, subject: Subject, row: SubjectKey,
                   templates: list[Template], *, keys: KeyRing, now: datetime) -> bool:
    """``templates`` under a new key, which ``row`` then holds; False where the old key or a
    template does not open (nothing changed)."""
    try:
        old = keys.unwrap(row.wrapped, subject_id=subject.id, pseudonym=subject.pseudonym,
                          epoch=row.epoch)
        vectors = [decrypt_template(template, key=old) for template in templates]
    except (ValueError, KeyUnavailable):
        logger.error("subject id %d: their key or a template of theirs does not open (changed"
                     " in the database, or its epoch destroyed): the key is not renewed, so the"
                     " copies made before of the templates destroyed open with it while it"
                     " lives", subject.id)
        return False
    key = new_key()
    for template, vector in zip(templates, vectors, strict=True):
        encrypt_template(template, vector, key=key, nonce=template.nonce)
    row.epoch, row.wrapped = wrap_data_key(session, subject, key, keys=keys)
    row.created_at = now
    return True


def renew_due(runtime: Runtime) -> int | None:
    """Renew, once, every key made before destructions renewed keys (``renewal_due``, marked by
    migration 0044 on the keys that existed then): a template destroyed before, while its
    subject stayed, then falls in the copies made before with their epoch, as it would have
    since. One write transaction, so several workers starting at once renew each key once;
    chained as ``subject_keys_renewed`` with the counts. None where no key was due (a ledger
    made since 0044, or one already renewed); else how many keys were renewed or deleted (a
    subject with no consent in force is left to their erasure; one whose key does not open to
    the start's reconciliation, which ran before)."""
    with runtime.db.reading() as session:  # every start asks: no write lock for a no
        if not session.scalar(select(exists().where(SubjectKey.renewal_due))):
            return None
    with runtime.db.transaction() as session:
        due = list(session.scalars(select(SubjectKey.subject_id).where(SubjectKey.renewal_due)))
        if not due:  # another worker's start renewed them meanwhile
            return None
        now = runtime.clock.now()
        # Renewed db.IN_CHUNK subjects at a time: each renew binds their ids in one IN list.
        renewed = sum(renew(session, due[start:start + IN_CHUNK], keys=runtime.keys, now=now)
                      for start in range(0, len(due), IN_CHUNK))
        session.execute(update(SubjectKey).where(SubjectKey.renewal_due).values(
            renewal_due=False))
        runtime.audit(session, Entry(action=AuditAction.SUBJECT_KEYS_RENEWED, actor=None,
                                     details={"keys_due": len(due), "keys_renewed": renewed}))
    logger.warning("subject keys made before destructions renewed keys: %d due, %d renewed"
                   " (once; copies made before hold the templates destroyed since under keys"
                   " the next epoch rotation destroys)", len(due), renewed)
    return renewed
