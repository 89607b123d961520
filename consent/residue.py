"""What an erased row leaves behind in each ledger backend, said once for every place that
says it (the register's security measures, the erasure receipt, ``docs/erasure.md``).

SQLite (the embedded default) overwrites deleted rows (``secure_delete``) and truncates its
write-ahead log on erasure, so the live files keep nothing. PostgreSQL cannot: MVCC keeps a deleted
or updated row's old version in the table and index files, and vacuum only marks that space free,
it does not zero it, so the bytes stay until new rows overwrite them (an outside tester found an
erased pseudonym in the ``subjects`` heap and its unique index after VACUUM and CHECKPOINT); the
WAL keeps them until recycled, streaming replicas and every backup taken before for as long as they
exist. What those bytes hold in clear is pseudonymous (the random pseudonym, dates, the age bracket
and jurisdiction; the audit rows' versions from before the erasure sealed them); the template is
there only encrypted. On both backends, a copy taken before the erasure (a backup, a snapshot, a
dead tuple) holds the subject's data key wrapped under the epoch key of the time, which lives in
the key store outside the database and which the next epoch rotation destroys
(:mod:`consent.epochs`): from then on the template in that copy is undecryptable. On PostgreSQL
that rotation is what makes the biometric residue honest; a test shows it with a real ``pg_dump``
(tests/consent/test_postgres_residue.py).
"""

from __future__ import annotations

from sqlalchemy.engine import make_url

SQLITE_MEASURE = "SQLite secure_delete and WAL truncation on erasure; index entries scrubbed"
POSTGRESQL_MEASURE = (
    "PostgreSQL: an erased row's old versions remain in the table and index files until"
    " overwritten (vacuum frees the space without zeroing it), in the WAL, on replicas and in"
    " backups; their pseudonymous columns stay readable there, while the template is held only"
    " encrypted under a subject key wrapped under an epoch key that the next key epoch"
    " rotation destroys, after which it is undecryptable; index entries scrubbed on every"
    " worker's replica"
)
"""Part of the declared material (the register's security measures): a change of this text
asks a PostgreSQL deployment for a new assessment and declaration, as any change of what it
declared does."""


def is_postgresql(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def storage_measure(url: str) -> str:
    """The register's security measure for the ledger at ``url``."""
    return POSTGRESQL_MEASURE if is_postgresql(url) else SQLITE_MEASURE


POSTGRESQL_AFTER_DESTROYED = (
    "PostgreSQL keeps the deleted rows' old versions in its table and index files until"
    " overwritten (vacuum frees the space without zeroing it), in its write-ahead log until"
    " recycled, on streaming replicas and in backups; their pseudonymous columns stay readable"
    " there, and the template they hold is encrypted under a subject key wrapped under epoch"
    " key keyEpoch, undecryptable from copiesUndecryptableAt")
SQLITE_AFTER_DESTROYED = (
    "the database write-ahead log, which still holds old copies of the deleted pages, is"
    " checkpointed and truncated (at the latest on the next start-up)")
"""English source strings: the erasure receipt's page states them in the reader's language."""


def after_destroyed(url: str) -> str:
    """The erasure receipt's statement of what outlives the destruction in the live ledger."""
    return POSTGRESQL_AFTER_DESTROYED if is_postgresql(url) else SQLITE_AFTER_DESTROYED
