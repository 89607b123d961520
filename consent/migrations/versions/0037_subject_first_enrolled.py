"""subject_first_enrolled: when a subject's first template was stored, kept while they exist

"One person per subject" compared a new face with the templates the subject held at that
moment, so once a withdrawal (or an expiry, a rectification, a model change) left them none,
the next enrolment counted as the first and any face passed (red team 6, finding 1). The
subject row now says whether they were ever enrolled (``first_enrolled_at``, set by
``ledger.add_template`` and never cleared), and a subject enrolled before with nothing to
compare a face with enrols again only through a capture session the desk opened
(``reenrol_at_desk``, consent.one_person).

Backfill: a subject holding templates is dated by the oldest of them; one whose templates were
all destroyed before this revision, by the oldest chained ``enrol`` event naming them (enrol
events are never pruned; an erased subject has no row left to date). The earlier of the two
wins. A subject neither finds was never enrolled.

Downgrade: the older schema has nowhere to keep the date, so the column goes. Upgrading again
dates the subjects anew from their templates and the log, as above.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = '0037'
down_revision = '0036'

_subjects = sa.table('subjects', sa.column('id', sa.Integer), sa.column('pseudonym', sa.String),
                     sa.column('first_enrolled_at', sa.DateTime))
_templates = sa.table('templates', sa.column('subject_id', sa.Integer),
                      sa.column('created_at', sa.DateTime))
_events = sa.table('audit_events', sa.column('at', sa.String), sa.column('action', sa.String),
                   sa.column('subjects', sa.JSON))


def _utc(at: object) -> datetime | None:
    """An event's ``at`` as the ledger's DateTime columns store UTC (naive), or None where it
    is no instant: the rule of ``consent.audit.parse_log_time`` as it stood at this revision,
    copied so this migration stays as it is while that function changes. Not ISO 8601 text,
    without an offset (the service never writes one, and read as the host's local time it
    would date someone by the machine migrating), or with no instant in UTC
    (``9999-12-31T23:00:00-05:00``: ``OverflowError``, which would abort the upgrade)."""
    try:
        moment = datetime.fromisoformat(at) if isinstance(at, str) else None
        if moment is None or moment.tzinfo is None:
            return None
        return moment.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        return None


def _oldest_enrol_events(bind: sa.Connection) -> dict[str, datetime]:
    """Each pseudonym the chained ``enrol`` events name, with the time of the oldest (:func:`_utc`).
    What a database writer left in another shape names no one."""
    oldest: dict[str, datetime] = {}
    for at, subjects in bind.execute(sa.select(_events.c.at, _events.c.subjects).where(
            _events.c.action == 'enrol')):
        when = _utc(at)
        if when is None:
            continue
        for pseudonym in subjects if isinstance(subjects, list) else []:
            if isinstance(pseudonym, str):
                oldest[pseudonym] = min(when, oldest.get(pseudonym, when))
    return oldest


def upgrade() -> None:
    op.add_column('subjects', sa.Column('first_enrolled_at', sa.DateTime(), nullable=True))
    bind = op.get_bind()
    oldest_template = sa.select(sa.func.min(_templates.c.created_at)).where(
        _templates.c.subject_id == _subjects.c.id).scalar_subquery()
    bind.execute(_subjects.update().values(first_enrolled_at=oldest_template))
    dated = dict(bind.execute(
        sa.select(_subjects.c.pseudonym, _subjects.c.first_enrolled_at)).all())
    for pseudonym, when in _oldest_enrol_events(bind).items():
        if pseudonym in dated and (dated[pseudonym] is None or when < dated[pseudonym]):
            bind.execute(_subjects.update().where(_subjects.c.pseudonym == pseudonym)
                         .values(first_enrolled_at=when))


def downgrade() -> None:
    op.drop_column('subjects', 'first_enrolled_at')
