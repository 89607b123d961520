"""``GET /healthz``: no authentication, nothing personal; for operators and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter

from optinface.api.deps import ServiceDep, passes_witness_gate
from optinface.api.schemas import Health
from optinface.api.uploads import InMemoryFormRoute

router = APIRouter(tags=["health"], route_class=InMemoryFormRoute)


@router.head("/healthz", include_in_schema=False)  # uptime probes often ask HEAD
@router.get("/healthz")
@passes_witness_gate
def healthz(service: ServiceDep) -> Health:
    """Status, the loaded models and their SHA-256, active execution providers, counts."""
    return Health.model_validate(service.health())
