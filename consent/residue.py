"""What an erased row leaves behind in each ledger backend, said once for every place that
says it (the register's security measures, the erasure receipt, the README).

SQLite (the embedded default) overwrites deleted rows (``secure_delete``) and truncates its
write-ahead log on erasure, so the live files keep nothing. PostgreSQL cannot: MVCC keeps a
deleted row's old version in the heap until vacuum reclaims it, the WAL keeps it until
recycled, streaming replicas and every backup taken before keep it for as long as they exist.
On both, a copy taken before the erasure (a backup, a snapshot, a dead tuple) holds the
subject's data key wrapped under the epoch key of the time, which lives in the key store
outside the database and which the next epoch rotation destroys (:mod:`consent.epochs`): from
then on that copy is undecryptable. On PostgreSQL that rotation is what makes the residue
honest; a test shows it with a real ``pg_dump`` (tests/consent/test_postgres_residue.py).
"""

from __future__ import annotations

from sqlalchemy.engine import make_url

SQLITE_MEASURE = "SQLite secure_delete and WAL truncation on erasure; index entries scrubbed"
POSTGRESQL_MEASURE = (
    "PostgreSQL: an erased row's old versions remain in dead tuples until vacuum, in the WAL,"
    " on replicas and in backups, holding its subject key wrapped under an epoch key that the"
    " next key epoch rotation destroys, after which they are undecryptable; index entries"
    " scrubbed on every worker's replica"
)


def is_postgresql(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def storage_measure(url: str) -> str:
    """The register's security measure for the ledger at ``url``."""
    return POSTGRESQL_MEASURE if is_postgresql(url) else SQLITE_MEASURE


def after_destroyed(url: str) -> str:
    """The erasure receipt's statement of what outlives the destruction in the live ledger."""
    if is_postgresql(url):
        return ("PostgreSQL keeps the deleted rows' old versions in dead tuples until vacuum,"
                " in its write-ahead log until recycled, on streaming replicas and in backups;"
                " the subject key they hold is wrapped under epoch key keyEpoch, and they are"
                " undecryptable from copiesUndecryptableAt")
    return ("the database write-ahead log, which still holds old copies of the deleted pages,"
            " is checkpointed and truncated (at the latest on the next start-up)")
