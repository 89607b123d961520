"""subject_ids_never_reused: SQLite hands out no subject id twice (AUTOINCREMENT)

An ``INTEGER PRIMARY KEY`` without ``AUTOINCREMENT`` takes the highest id plus one, so once the
subject with the highest id was erased, the next subject got that id again (red team 7,
finding 3). Whatever the ledger keys by subject id then passes from the erased person to the
new one: a wrapped data key put back by SQL from a copy made before the erasure became the new
subject's key, and the next epoch rotation re-wrapped it, so the erased person's templates in
every earlier copy stayed decryptable. With ``AUTOINCREMENT`` SQLite keeps the highest id it
ever gave in ``sqlite_sequence`` and never goes below it. PostgreSQL's ``SERIAL`` sequence never
gives a value twice already: nothing changes there.

SQLite cannot add ``AUTOINCREMENT`` to a table: it is rebuilt (batch mode), every row, id,
column, index and unique constraint kept, the counter starting at the highest id present. The
tables referencing it keep their rows and references: migrations run with foreign keys off on
SQLite (``consent.db.migrating``). Templates have had ``AUTOINCREMENT`` since 0001.

Downgrade: the table is rebuilt without it, and ids may be reused again.
"""

from __future__ import annotations

from alembic import op

revision = '0038'
down_revision = '0037'


def _rebuild(*, autoincrement: bool) -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    with op.batch_alter_table('subjects', recreate='always',
                              table_kwargs={'sqlite_autoincrement': autoincrement}):
        pass


def upgrade() -> None:
    _rebuild(autoincrement=True)


def downgrade() -> None:
    _rebuild(autoincrement=False)
