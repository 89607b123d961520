"""Whether a deployment is there: the one rule every command that acts on one checks first.

Only ``optinface serve`` and the bootstrap ``keys create`` (no ``--api-key``) make a
deployment. Any other command, opened on a data directory that holds none (a mistyped path, a
volume that failed to mount and left its empty mount point), would otherwise create a new,
empty ledger and answer from it as if all were well: a sweep erasing nobody, a register
declaring nothing, a break-glass key for a deployment that is not the one in trouble.

What marks a deployment:

- the data directory is a folder;
- on SQLite, the ledger's database file exists (``OPTINFACE_DATABASE_URL``'s, by default
  ``<data_dir>/optinface.db``);
- on PostgreSQL, where a new worker's data directory is legitimately fresh (its index is a
  replica, rebuilt from the shared ledger), the key store holds the deployment's epoch key:
  the ledger's data are unreadable without it, and only a new deployment makes one.

Checked before anything is opened, so a refused command creates no file.
"""

from __future__ import annotations

from optinface.consent.db import sqlite_file
from optinface.consent.errors import DataDirUnusable
from optinface.consent.keystore import LEGACY_FOLDER, open_key_store_to_read
from optinface.consent.settings import ConsentSettings

MAKES_ONE = ("`optinface serve` (or `keys create` without --api-key, for the first admin key)"
             " makes a deployment; this command acts on one")


def require_deployment(settings: ConsentSettings) -> None:
    """Refuse unless a deployment is there (see the module docstring); reads, makes nothing.

    Raises:
        DataDirUnusable: the data directory is missing or not a folder, or holds no deployment.
        KeyStoreUnusable: on PostgreSQL, the key store cannot be read.
    """
    require_data_dir(settings)
    if sqlite_file(settings.url) is None and not _keys_held(settings):
        raise DataDirUnusable("the key store holds no epoch key, so no deployment is there (not"
                              f" mounted, or another OPTINFACE_KEY_DIR?): {MAKES_ONE}")


def require_data_dir(settings: ConsentSettings) -> None:
    """Refuse unless the data directory is a folder holding, on SQLite, the ledger's file: the
    part of :func:`require_deployment` that needs no key store, asked alone by ``audit verify``,
    which reads the ledger as an outsider would, with or without the key store.

    Raises:
        DataDirUnusable: the data directory is missing or not a folder, or on SQLite holds no
            ledger.
    """
    data_dir = settings.data_dir
    if not data_dir.exists():
        raise DataDirUnusable(f"no data directory at {data_dir}: {MAKES_ONE}")
    if not data_dir.is_dir():
        raise DataDirUnusable(f"data directory {data_dir} is not a folder: {MAKES_ONE}")
    ledger = sqlite_file(settings.url)
    if ledger is not None and not ledger.is_file():
        raise DataDirUnusable(f"no ledger at {ledger}, so no deployment in the data directory"
                              f" {data_dir} (a volume not mounted?): {MAKES_ONE}")


def _keys_held(settings: ConsentSettings) -> bool:
    """Whether the key store holds an epoch key (or the data directory an older layout's keys,
    which the next start moves into the store)."""
    if (settings.data_dir / LEGACY_FOLDER).is_dir():
        return True
    store = open_key_store_to_read(settings)
    if store is None:
        return False
    try:
        return bool(store.epochs())
    finally:
        store.close()
