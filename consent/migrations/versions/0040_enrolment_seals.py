"""enrolment_seals: a keyed seal on whether a subject was enrolled before

``subjects.first_enrolled_at`` (0037) says "enrolled before": a subject so marked who holds no
template to compare a new face with enrols again only at the desk (``reenrol_at_desk``). It
carried no seal, so a database writer who cleared it (and deleted the template rows) made the
next self-service enrolment a first one again (red team 6, finding 1, left open). The subject's
enrolment state gets a seal, HMAC-SHA256 under the key store's HMAC key (consent.row_seals,
kind ``enrolment``): made at creation over "never enrolled", replaced at the first enrolment by
the sealed first-enrolment time. A plain ADD COLUMN, nullable: the migration holds no key, so
the subjects present are sealed as their column says at the service's first start after it,
once, chained as ``enrolment_seals_adopted`` (or, if that start finds the log not what its
witness signed, or the row seals were never adopted, never: ``enrolment_seals_not_adopted``).

Downgrade: the older schema has nowhere to keep the seal, so the column goes. Upgrading again
does not seal the subjects anew (the adoption is chained once): each subject then present who
holds no template to compare with enrols only at the desk until the operator seals them again
with the key store (``optinface keys reseal``).
"""

from __future__ import annotations

import sqlalchemy as sa

from optinface.consent.migrations.steps import add_columns

revision = '0040'
down_revision = '0039'

upgrade, downgrade = add_columns(
    'subjects', sa.Column('enrolment_seal', sa.String(64), nullable=True))
