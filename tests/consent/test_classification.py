"""Every table of the ledger has a category of data, and the rules read it (G-01, B-00)."""

from __future__ import annotations

from sqlalchemy import func, select

from optinface.consent.classification import TABLES, DataCategory
from optinface.consent.schemas import ErasureReason
from optinface.consent.tables import Base, Subject
from tests.support.backends import both_backends
from tests.support.consent import World

ERASED_AT_ONCE = (DataCategory.BIOMETRIC, DataCategory.KEY)


def test_every_table_of_the_ledger_has_a_category_of_data() -> None:
    """A new table must be classified before any test passes: none escapes the rules."""
    assert set(TABLES) == set(Base.metadata.tables)
    assert TABLES["templates"] is DataCategory.BIOMETRIC


@both_backends
def test_an_erasure_leaves_no_row_of_a_biometric_or_key_table_naming_the_subject(
    world: World, portrait_jpegs: list[bytes]
) -> None:
    """Read from the classification, not from a list of tables: a biometric table added later
    is checked too."""
    pseudonym = world.enrolled(portrait_jpegs[0])
    with world.service.runtime.db.transaction() as session:
        subject_id = session.scalar(select(Subject.id).where(Subject.pseudonym == pseudonym))
    erased = [Base.metadata.tables[name] for name, category in TABLES.items()
              if category in ERASED_AT_ONCE]
    # Every one names its subject, but the epoch keys, which wrap every subject's key at once
    # and are destroyed by rotation (consent.epochs): a new one without a subject fails here.
    tables = [table for table in erased if table.name != "key_epochs"]
    assert all("subject_id" in table.c for table in tables)
    assert {t.name for t in tables} == {"templates", "subject_keys"}

    def rows() -> list[int]:
        with world.service.runtime.db.transaction() as session:
            return [session.scalar(select(func.count()).select_from(table).where(
                table.c.subject_id == subject_id)) or 0 for table in tables]

    assert all(rows())
    world.service.erase(actor=world.signer(pseudonym).actor, subject=pseudonym,
                        reason=ErasureReason.REQUEST)
    assert rows() == [0, 0]


def test_the_register_states_the_categories_of_data_with_their_tables(world: World) -> None:
    register = world.service.register()
    [biometric] = [c for c in register.categories_of_data if "special category" in c]
    assert "templates" in biometric and "subjects" not in biometric
    assert "## Categories of data" in world.service.render_register(register)
