"""Configuration of the consent core: the engine's settings plus who is responsible and the rules.

Built by a factory (``ConsentSettings()``) and passed in; nothing is read at import time.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import SettingsConfigDict

from optinface.engine.settings import EngineSettings


class Jurisdiction(StrEnum):
    """Where a subject's consent is governed: decides the age of digital consent."""

    QC = "QC"  # Québec: Law 25 / LCCJTI, consent alone from 14
    EU = "EU"  # GDPR art. 8: member states choose 13 to 16


class Recipient(BaseModel):
    """A recipient, or category of recipients, of disclosures (GDPR art. 30(1)(d))."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, description="Who receives data, e.g. 'Ethics board'.")
    purpose: str = Field(min_length=1, description="Why they receive it.")
    legal_basis: str = Field(min_length=1, description="The legal ground of the disclosure.")


class ConsentSettings(EngineSettings):
    """Everything :class:`consent.service.OptinFace` needs."""

    model_config = SettingsConfigDict(env_prefix="OPTINFACE_", extra="ignore")

    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite:///<data_dir>/optinface.db."
    )
    # Kept apart from the data so that a copy of the data directory holds no key and no
    # checkpoint it could rewrite; the defaults sit beside (never inside) the data directory and
    # the README asks operators to move them to separate mounts.
    key_dir: Path | None = Field(
        default=None, description="The key store; default <data_dir>-keys beside the data."
    )
    audit_witness_dir: Path | None = Field(
        default=None,
        description="Append-only folder for signed checkpoints (and the erasure journal); "
        "default <data_dir>-witness beside the data.",
    )

    # Who answers for the database (the register and every receipt name them).
    controller_name: str = "optinface reference deployment"
    controller_contact: str = "privacy@example.org"
    privacy_officer: str = "Privacy officer, privacy@example.org"
    pia_reference: str = "PIA-0000 (not yet written)"
    policy_url: str = "https://example.org/privacy"
    jurisdiction: Jurisdiction = Jurisdiction.QC
    # Stated in the register; from the environment as JSON, e.g. OPTINFACE_RECIPIENTS=
    # '[{"name": "Ethics board", "purpose": "audit of searches", "legal_basis": "consent"}]'
    recipients: list[Recipient] = Field(
        default=[], description="Who data are disclosed to (none by default)."
    )

    # Rules
    max_consent_days: int = Field(default=3 * 365, ge=1)
    # Law 25 sets 14; a lower setting would let a child's own passkey bind them (issue 11).
    quebec_min_age: int = Field(default=14, ge=14)
    gdpr_min_age: int = Field(default=16, ge=13, le=16)
    retention_years_after_last_interaction: int = Field(default=3, ge=1)
    subject_token_days: int = Field(default=365, ge=1)
    audit_checkpoint_every: int = Field(default=100, ge=1)
    declaration_warning_days: int = Field(default=60, ge=0)
    sweep_interval_seconds: int = Field(default=3600, ge=1)
    # One person per subject: a cap, and every enrolment after the first must match (issue 11).
    max_templates_per_subject: int = Field(default=5, ge=1)

    # Passkeys (WebAuthn): the person's own credential signs every act that creates or ends a
    # legal basis. The relying party id is the site's domain; origins are where the portal runs.
    passkey_rp_id: str = Field(default="localhost", min_length=1)
    passkey_rp_name: str = "optinface"
    passkey_origins: list[str] = Field(
        default=[],
        description="Origins allowed in clientDataJSON; empty = https://<rp id>, and any "
        "http(s)://localhost:<port> when the rp id is localhost (development).",
    )
    public_url: str = Field(
        default="http://localhost:8000", description="Base of the links handed to people."
    )
    enrolment_link_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    challenge_seconds: int = Field(default=300, ge=10, le=3600)

    @model_validator(mode="after")
    def _default_locations(self) -> ConsentSettings:
        if self.database_url is None:
            self.database_url = f"sqlite:///{self.data_dir / 'optinface.db'}"
        data = self.data_dir.absolute()  # "." has no name to put a suffix on
        if self.key_dir is None:
            self.key_dir = data.with_name(f"{data.name}-keys")
        if self.audit_witness_dir is None:
            self.audit_witness_dir = data.with_name(f"{data.name}-witness")
        return self

    @property
    def url(self) -> str:
        """The database URL, always set after validation."""
        assert self.database_url is not None
        return self.database_url

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def master_key_path(self) -> Path:
        return self.keys_dir / "master.key"

    @property
    def signing_key_path(self) -> Path:
        return self.keys_dir / "signing.key"

    @property
    def hmac_key_path(self) -> Path:
        return self.keys_dir / "hmac.key"
