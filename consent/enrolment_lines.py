"""Enrolment lines adopted once: the subjects enrolled before the journal recorded first
enrolments get their ``enrolled`` line at the first start that can write it.

A first enrolment is journaled in the witness folder before it commits
(:class:`consent.erasure_journal.Enrolled`), so a database writer who puts back a subject's
"never enrolled" row and seal from a copy, and edits the subjects the log's ``enrol`` events
name, still makes no self-service enrolment a first one (:mod:`consent.one_person`). Subjects
first enrolled by a version before that line have none; for them only the log stood, which
that writer edits. So the first start after the upgrade appends a line for every subject the
service itself records as enrolled before (``first_enrolled_at`` set, its enrolment seal
holding: :func:`consent.row_seals.enrolment_sealed`) whom the journal does not name yet, and
chains ``enrolment_lines_adopted`` with how many, once (:func:`consent.row_seals.adopt`, the
seals' mark). The lines are appended in one write before that event commits, the journal's
order: a start that dies between them leaves lines the next start finds already there, and
adopts the rest.

Only a start that found the log as its witness signed it, on a ledger whose row seals were not
refused adoption, adopts (the rule of the adoptions after the row seals',
:func:`consent.row_seals.rows_adopted_and`: the enrolment seals it asks were then never made):
any other chains ``enrolment_lines_not_adopted`` instead, for good, as the seals' adoptions do;
``optinface keys reseal`` seals the rows again but journals no line. A line only
ever sends a person to the desk, but a column and seal a writer restored from a copy of an
edited log are not the service's word. Not covered: a subject whose column was cleared (and
sealed as cleared) before the upgrade gets no line; the chained ``enrol`` events still name
them, unless edited too.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, load_only

from optinface.consent import erasure_journal
from optinface.consent.audit import AuditAction
from optinface.consent.ledger import tombstone_hash
from optinface.consent.row_seals import adopt, enrolment_sealed, rows_adopted_and
from optinface.consent.runtime import Runtime
from optinface.consent.tables import Subject


def adopt_once(runtime: Runtime, *, log_sound: bool) -> dict[str, int] | None:
    """At the first start with enrolment lines, journal each subject enrolled before whom the
    journal does not name, and chain ``enrolment_lines_adopted`` with how many
    (``enrolment_lines``); that count, or None when the log holds that event or
    ``enrolment_lines_not_adopted`` already. ``log_sound`` as
    :func:`consent.row_seals.adopt_once` takes it. Run after the enrolment seals' adoption,
    whose seals it asks."""

    def journal_enrolled(session: Session) -> dict[str, int]:
        keys, now = runtime.keys, runtime.clock.now()
        journaled = runtime.journal_ends.enrolled_hashes()
        sealed = (tombstone_hash(keys, subject.pseudonym)
                  for subject in session.scalars(select(Subject).options(load_only(
                      Subject.pseudonym, Subject.first_enrolled_at, Subject.enrolment_seal))
                      .where(Subject.first_enrolled_at.is_not(None)))
                  if enrolment_sealed(keys, subject))
        lines = [erasure_journal.Enrolled(subject_hash=subject_hash, at=now)
                 for subject_hash in sealed if subject_hash not in journaled]
        erasure_journal.record(runtime, *lines)  # one write, before the event commits
        return {"enrolment_lines": len(lines)}

    return adopt(runtime, adopted=AuditAction.ENROLMENT_LINES_ADOPTED,
                 refused=AuditAction.ENROLMENT_LINES_NOT_ADOPTED,
                 sound=rows_adopted_and(log_sound), seal_rows=journal_enrolled,
                 refusal=("enrolment lines NOT adopted: this start found the audit log other"
                          " than its witness signed it, or the row seals were refused adoption"
                          " before, so no subject enrolled before the"
                          " journal's enrolment lines was journaled; for them the chained enrol"
                          " events alone stand behind the sealed column (chained as"
                          " enrolment_lines_not_adopted)"))
