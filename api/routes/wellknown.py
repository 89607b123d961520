"""``GET /.well-known/optinface-keys.json``: the deployment's public signing keys, at a stable URL.

Anyone holding a receipt (a volunteer, a regulator, a court) checks it against a key published
here and in the register, never against the key the receipt carries: anyone can sign with their
own. No authentication, nothing personal.
"""

from __future__ import annotations

from fastapi import APIRouter

from optinface.api.deps import ServiceDep, passes_witness_gate
from optinface.api.schemas import PublishedKeys
from optinface.api.uploads import InMemoryFormRoute

router = APIRouter(tags=["health"], route_class=InMemoryFormRoute)

KEYS_PATH = "/.well-known/optinface-keys.json"


@router.get(KEYS_PATH)
@passes_witness_gate
def published_keys(service: ServiceDep) -> PublishedKeys:
    """The Ed25519 keys that sign consent, withdrawal and erasure receipts and checkpoints, and
    the receipt keys retired since (``retired_keys``), both from one read of the receipt keys
    (on a shared ledger, a key-store read)."""
    receipt_keys = service.receipt_keys
    return PublishedKeys(controller=service.settings.controller_name,
                         keys=service.published_keys(receipt_keys),
                         retired_keys=service.retired_keys(receipt_keys))
