"""A witness folder that stops taking checkpoints in service, and is mended."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from optinface.consent.witness import checkpoint_path


@contextmanager
def checkpoints_refused(witness_dir: Path) -> Iterator[None]:
    """The folder refuses every checkpoint of a log under 10,000 events while the block runs: a
    file where their subfolder should be (refused to root too, as a read-only or full folder
    refuses anyone; the tests run as root, where ``chmod`` stops nothing). Mended after it,
    whatever happens: the subfolder back in place, every checkpoint it held kept."""
    shard = checkpoint_path(witness_dir, 0).parent
    aside = shard.with_name(f"{shard.name}.aside")
    shard.rename(aside)
    shard.write_text("not a folder", encoding="utf-8")
    try:
        yield
    finally:
        shard.unlink()
        aside.rename(shard)
