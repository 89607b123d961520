"""The pragmas erasure relies on are set by us on every connection, not left to the build."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event

from optinface.consent.db import make_engine


def test_secure_delete_is_on_even_for_a_connection_that_starts_with_it_off(
    tmp_path: Path,
) -> None:
    """This machine's SQLite is built with secure_delete on by default, so only a connection
    forced off before our configuration runs shows that the pragma is really set."""
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")

    def force_off(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA secure_delete=OFF")
        assert dbapi_connection.execute("PRAGMA secure_delete").fetchone() == (0,)

    event.listen(engine, "connect", force_off, insert=True)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    finally:
        engine.dispose()
