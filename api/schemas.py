"""Bodies and answers that exist only at the HTTP boundary; the rest are :mod:`consent.schemas`."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

from optinface.consent.identifiers import Name, Reference
from optinface.consent.moments import Day
from optinface.consent.roles import Role
from optinface.consent.schemas import PublishedKey


class DeclarationCreate(BaseModel):
    """The date the database was declared to the regulator and the file reference it gave."""

    date: Day
    reference: Reference


class RegulatorOrderCreate(BaseModel):
    """A regulator's order on the database (LCCJTI art. 45): suspend, or destroy every template."""

    reference: Reference = Field(description="Lifted later at"
                                 " /v1/register/orders/{reference}/lift.")
    destroy: bool = False


class ApiKeyCreate(BaseModel):
    role: Role = Field(description="Subject tokens are issued with subjects, not here.")
    name: Name
    client_cert_pem: str | None = Field(
        default=None, max_length=20_000,
        description=("A researcher's or verifier's client certificate (PEM) to bind the key to:"
                     " where the server verifies client certificates, the key works only over"
                     " a connection that presents it. Only its SHA-256 is stored."))

    @field_validator("role")
    @classmethod
    def _not_subject(cls, role: Role) -> Role:
        """A subject's rights come with a token scoped to that subject, never with an API key."""
        if role is Role.SUBJECT:
            raise ValueError("subject tokens are issued with subjects, never as API keys")
        return role


class RegisterFormat(StrEnum):
    JSON = "json"
    MD = "md"


class AuditExportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"


class PublishedKeys(BaseModel):
    """The document at /.well-known/optinface-keys.json."""

    controller: str
    keys: list[PublishedKey]
    retired_keys: list[PublishedKey] = Field(
        default_factory=list, description="Receipt keys replaced by a rotation, each with its"
        " retired_at: a receipt whose publicKey names one checks against it if it states it was"
        " signed no later. Apart from keys, so a reader of keys alone sees the keys in force.")


class Health(BaseModel):
    """What an operator or a container orchestrator needs to know, without authentication."""

    status: str = Field(description="\"ok\" whenever the service answers.")
    models: dict[str, str] = Field(description="Model id -> SHA-256 from the manifest.")
    model_id: str = Field(description="The recognizer that makes templates.")
    active_providers: dict[str, list[str]] = Field(
        description="onnxruntime providers in use, per model role (detector, recognizer).")
    subjects: int = Field(description="Subjects not erased nor being erased.")
    templates: int = Field(description="Templates in the ledger.")
    templates_needing_reenrolment: int = Field(
        description="Templates of another model than model_id: not searched until the person"
                    " enrols again.")
    index_entries: int = Field(description="Vectors in this worker's search index.")
    declared: bool = Field(description="A declaration of the register is recorded.")
    in_service: bool = Field(
        description="Matching allowed today: no regulator's order in force; outside demo mode,"
                    " an impact assessment of the register as it stands"
                    " (OPTINFACE_PIA_MATERIAL_SHA256); a declaration of that same register,"
                    " whose period (OPTINFACE_DECLARATION_PERIOD_DAYS, 60) has run.")
    demo_mode: bool = Field(description="Placeholder accountability: not for real people.")
    replica_seq: int | None = Field(
        default=None, description="Several workers on PostgreSQL: the last change-feed entry "
        "this worker's index replica has applied; null on the embedded SQLite default.")
