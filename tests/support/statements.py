"""What SQL a service sends its database: where a promise is "no write", counted, not timed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from optinface.consent.service import OptinFace


@contextmanager
def token_updates(service: OptinFace) -> Iterator[list[str]]:
    """The ``UPDATE subject_tokens`` statements the service sends its database meanwhile (a
    token's last use: written once a day, :mod:`consent.token_use`)."""
    sent: list[str] = []

    def seen(_connection: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE SUBJECT_TOKENS"):
            sent.append(statement)

    engine = service.runtime.db.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", seen)
