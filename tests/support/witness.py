"""A witness folder that stops taking checkpoints in service, and is mended; the witness
stalled by it, and the refusal a stalled witness answers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2

from optinface.consent.service import OptinFace
from optinface.consent.witness import checkpoint_path
from tests.support.api import World, assert_refused, auth, ok


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


def stall(world: World, service: OptinFace) -> None:
    """One event past the witnessed head (a reviewer's read), whose checkpoint the folder,
    refusing checkpoints (:func:`checkpoints_refused`), does not take at the periodic round:
    the witness is stalled."""
    ok(world.client.get("/v1/audit/events", params={"limit": 1},
                        headers=auth(world.keys.reviewer)))
    service.witness_audit()
    assert service.witness_stalled


def assert_held(response: httpx2.Response, service: OptinFace) -> None:
    """Refused by the witness gate: 503 ``witness_unusable``, nothing done, the folder named."""
    assert_refused(response, 503, "witness_unusable")
    details = response.json()["details"]
    assert details["committed"] is False
    assert details["path"] == str(service.settings.witness_dir)
