"""Configuration of the consent core: the engine's settings plus who is responsible and the rules.

Built by a factory (``ConsentSettings()``) and passed in; nothing is read at import time.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from optinface.consent.identifiers import SHA256_PATTERN, CountryCode, OneLine, Words
from optinface.consent.web_addresses import require_base_url, require_origin, require_within
from optinface.engine.settings import EngineSettings

ACCESS_LOG_MAX_DAYS = 365  # the longest an access log keeps its content without a hold
ACCESS_LOG_MIN_DAYS = 183  # the shortest (AI Act arts. 19, 26(6)): what a prune record obeys


class Jurisdiction(StrEnum):
    """Where a subject's consent is governed: decides the age of digital consent."""

    QC = "QC"  # Québec: Law 25 / LCCJTI, consent alone from 14
    EU = "EU"  # GDPR art. 8: the deployment's gdpr_min_age (member states choose 13 to 16)
    IL = "IL"  # Illinois BIPA s. 15: a written release, by the legally authorized
    # representative for a minor (under 18)
    # One EU member state each (ISO 3166-1 alpha-2, Greece EU-GR): the GDPR's rules, at the
    # age of digital consent its national law chose (policies.AGES_OF_DIGITAL_CONSENT).
    EU_AT = "EU-AT"
    EU_BE = "EU-BE"
    EU_BG = "EU-BG"
    EU_CY = "EU-CY"
    EU_CZ = "EU-CZ"
    EU_DE = "EU-DE"
    EU_DK = "EU-DK"
    EU_EE = "EU-EE"
    EU_ES = "EU-ES"
    EU_FI = "EU-FI"
    EU_FR = "EU-FR"
    EU_GR = "EU-GR"
    EU_HR = "EU-HR"
    EU_HU = "EU-HU"
    EU_IE = "EU-IE"
    EU_IT = "EU-IT"
    EU_LT = "EU-LT"
    EU_LU = "EU-LU"
    EU_LV = "EU-LV"
    EU_MT = "EU-MT"
    EU_NL = "EU-NL"
    EU_PL = "EU-PL"
    EU_PT = "EU-PT"
    EU_RO = "EU-RO"
    EU_SE = "EU-SE"
    EU_SI = "EU-SI"
    EU_SK = "EU-SK"
    UK = "UK"  # UK GDPR and the Data Protection Act 2018

    @property
    def regime(self) -> Jurisdiction:
        """The rules beyond the age of consent: a member state's persons are the GDPR's
        (``EU``: its representative, art. 27, and its transfer area, chapter V); every other
        value is its own."""
        return Jurisdiction.EU if self.value.startswith("EU-") else self


class Recipient(BaseModel):
    """A recipient, or category of recipients, of disclosures (GDPR art. 30(1)(d))."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: OneLine = Field(description="Who receives data, e.g. 'Ethics board'.")
    purpose: OneLine = Field(description="Why they receive it.")
    legal_basis: OneLine = Field(description="The legal ground of the disclosure.")


class KeyStoreKind(StrEnum):
    """Where the keys live: files in ``key_dir``, or a PKCS#11 token (an HSM, SoftHSM2)."""

    FILE = "file"
    PKCS11 = "pkcs11"


DRIVER_BY_DATABASE = {"sqlite": "pysqlite", "postgresql": "psycopg"}
"""The ledger's databases and the one driver the project installs for each: SQLite (the
default) and PostgreSQL through psycopg 3 (several workers). Any other URL would fail only when
first opened, deep in SQLAlchemy."""


def is_supported_database(url: str) -> bool:
    """Whether ``url`` names SQLite or PostgreSQL through its installed driver (given, as in
    ``postgresql+psycopg://``, or SQLAlchemy's default for the database)."""
    try:
        parsed = make_url(url)
        database = parsed.get_backend_name()
        return (database in DRIVER_BY_DATABASE
                and parsed.get_driver_name() == DRIVER_BY_DATABASE[database])
    except (ArgumentError, ValueError):  # not a URL, or a port that is not a number
        return False


def is_in_memory(url: str) -> bool:
    """Whether ``url`` (a supported one) names a SQLite database held in memory: no file
    (``sqlite://``, ``sqlite:///``), ``:memory:``, or a URI one (``file::memory:``,
    ``mode=memory``)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return False
    database = parsed.database or ""
    return (database in ("", ":memory:") or database.startswith("file::memory:")
            or parsed.query.get("mode") == "memory")


LONGEST_DAYS = 36_525
"""A century: the longest any duration setting in days may be. Added to any time of the
service's span (:mod:`consent.moments`, up to 2999) it stays a date the service can hold, so a
setting accepted at start can never make a later erasure, consent or sign-in fail."""

LONGEST_EPOCH_HOURS = 366 * 24
"""A key epoch lasts at most a year: it bounds how long a backup made before an erasure stays
decryptable, which the erasure receipt states."""

MAX_STEP_UP_MINUTES = 60
"""An admin's step-up lasts an hour at most: a second factor asked once a day is no longer one."""

LONGEST_INTERVAL_SECONDS = 24 * 3600
"""The periodic tasks (the sweep, the failed-authentication tally) run at least daily."""

LONGEST_WITNESS_INTERVAL_SECONDS = 600
"""The witness folder lags the log by ten minutes at most while events happen. The events after
the newest witnessed checkpoint are signed by nothing outside the database: a process killed
unclean then, and those rows deleted, goes unseen (:mod:`consent.log_tail`). A day would make
that window a day's searches (red team 4, finding 3); ten minutes keeps it ten times the
default's, and a checkpoint is a small file."""

MOST_EVENTS_PER_CHECKPOINT = 1000
"""A checkpoint is signed every 1000 events at most, for the same reason: the unsigned tail is
bounded by a count too, so a burst of searches does not wait for the interval (red team 4,
finding 3)."""


class Hosting(BaseModel):
    """Where the database is kept (the declaration asks; P-39.1 s. 17 for outside Québec)."""

    model_config = ConfigDict(frozen=True)

    country: str
    region: str
    provider: str


class ConsentSettings(EngineSettings):
    """Everything :class:`consent.service.OptinFace` needs."""

    model_config = SettingsConfigDict(env_prefix="OPTINFACE_", extra="ignore")

    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite:///<data_dir>/optinface.db."
    )
    # Kept apart from the data so that a copy of the data directory holds no key and no
    # checkpoint it could rewrite; the defaults sit beside (never inside) the data directory and
    # docs/keys-and-backups.md asks operators to move them to separate mounts.
    key_dir: Path | None = Field(
        default=None, description="The key store; default <data_dir>-keys beside the data."
    )
    key_store: KeyStoreKind = Field(
        default=KeyStoreKind.FILE, description="file (key_dir) or pkcs11 (a token)."
    )
    pkcs11_module: Path | None = Field(
        default=None, description="The PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so."
    )
    pkcs11_token_label: str = Field(default="optinface", description="The token's label.")
    pkcs11_pin: SecretStr | None = Field(default=None, description="The token's user PIN.")
    # Subject keys are re-wrapped under a fresh epoch key this often and the old one destroyed:
    # the bound on how long a copy made before an erasure stays decryptable.
    key_epoch_hours: float = Field(default=24, gt=0, le=LONGEST_EPOCH_HOURS)
    audit_witness_dir: Path | None = Field(
        default=None,
        description="Append-only folder for signed checkpoints (and the erasure journal); "
        "default <data_dir>-witness beside the data.",
    )

    # Who answers for the database (the register, /privacy, every notice, receipt and export
    # name them). The defaults are placeholders: ``serve`` refuses them outside demo mode
    # (see :func:`placeholders`).
    controller_name: OneLine = "optinface reference deployment"
    controller_contact: OneLine = "privacy@example.org"
    # P-39.1 s. 3.1: the person in charge of the protection of personal information.
    privacy_officer_name: OneLine = "Privacy officer (placeholder)"
    privacy_officer_title: OneLine = "Person in charge of the protection of personal information"
    privacy_officer_contact: OneLine = "privacy@example.org"
    dpo_contact: OneLine = Field(default="dpo@example.org", description="GDPR art. 37 DPO.")
    eu_representative: OneLine | None = Field(
        default=None,
        description="GDPR art. 27 representative (name, address, contact); required, unless "
        "eu_establishment, before any EU data subject is accepted.",
    )
    joint_controller: OneLine | None = Field(
        default=None,
        description="GDPR art. 26 joint controller (name and contact), where one determines the"
        " purposes and means with the controller; stated in the record of processing.",
    )
    eu_establishment: bool = Field(
        default=False,
        description="The controller is established in the EU (GDPR art. 3(1)): no art. 27 "
        "representative is owed.",
    )
    pia_reference: OneLine = "PIA-0000 (not yet written)"
    pia_sha256: str = Field(default="", description="SHA-256 of the PIA document.")
    # The register's material SHA-256 the PIA assessed (`optinface register pia` writes it into
    # the skeleton): outside demo mode matching is refused while the register differs, so a new
    # purpose, model, hosting, retention, measure, recipient or transfer safeguard needs a new
    # assessment first (P-39.1 s. 3.3; GDPR art. 35).
    pia_material_sha256: str | None = Field(default=None, pattern=SHA256_PATTERN)
    policy_url: OneLine = "https://example.org/privacy"
    hosting_country: CountryCode = Field(default="CA",
                                         description="ISO 3166-1 alpha-2 code of the country.")
    hosting_region: OneLine = "Québec"
    hosting_provider: OneLine = "(placeholder) not chosen"
    # Stated in the register for every transfer out of a served jurisdiction (consent.transfers).
    transfer_safeguards: OneLine | None = Field(
        default=None,
        description="What protects data kept outside their persons' jurisdiction, e.g. "
        "'adequacy decision 2002/2/EC' or 'standard contractual clauses (2021/914)' (GDPR "
        "arts. 45-46; P-39.1 s. 17 assessment).",
    )
    non_biometric_alternative: Words = Field(
        default="(placeholder) describe how a person is served without their face",
        description="What a person can use instead of face matching (CAI biometrics "
        "guidance, GDPR art. 7(4)); shown in every notice and receipt.",
    )
    # French readers (Québec's Charter of the French language): the French of the two texts
    # above, the pages' older way to give it, kept; `optinface texts set` gives it as well and
    # replaces it (consent.operator_texts). Without either, French pages show the English,
    # marked "(en anglais seulement)".
    privacy_officer_title_fr: OneLine | None = Field(
        default=None, description="The person in charge's title, in French, for French pages"
        " (a translation set with `optinface texts set` replaces it).")
    non_biometric_alternative_fr: Words | None = Field(
        default=None, description="The non-biometric alternative, in French, for French pages"
        " (a translation set with `optinface texts set` replaces it).")
    demo_mode: bool = Field(
        default=False,
        description="Placeholder accountability allowed; /healthz, the register and every "
        "page say so. Never for real people.",
    )
    jurisdiction: Jurisdiction = Jurisdiction.QC
    # Stated in the register; from the environment as JSON, e.g. OPTINFACE_RECIPIENTS=
    # '[{"name": "Ethics board", "purpose": "audit of searches", "legal_basis": "consent"}]'
    recipients: list[Recipient] = Field(
        default=[], description="Who data are disclosed to (none by default)."
    )

    # Rules
    max_consent_days: int = Field(default=3 * 365, ge=1, le=LONGEST_DAYS)
    # A minor's consent (by the declared age bracket, never the face) is shorter: faces change
    # while growing up (X-MIN 7). The shorter of the two applies.
    minor_consent_max_days: int = Field(default=365, ge=1, le=LONGEST_DAYS)
    # Law 25 sets 14; a lower setting would let a child's own passkey bind them (issue 11).
    quebec_min_age: int = Field(default=14, ge=14)
    gdpr_min_age: int = Field(default=16, ge=13, le=16)
    # BIPA s. 15(a): destroyed 3 years after the last interaction at the latest; shorter only.
    retention_years_after_last_interaction: int = Field(default=3, ge=1, le=3)
    # Access-log events lose their content after this many days (consent.log_retention): 6 to
    # 12 months (CNIL deliberation 2021-122; the AI Act, arts. 19 and 26(6), asks at least 6).
    # Longer, or unset (kept whole), only under an investigation hold, stated in the policy.
    access_log_retention_days: int | None = Field(default=ACCESS_LOG_MAX_DAYS,
                                                  ge=ACCESS_LOG_MIN_DAYS,
                                                  le=LONGEST_DAYS)
    access_log_hold: OneLine | None = Field(
        default=None, max_length=500,
        description="Why the access log is kept beyond a year (an investigation hold, with its"
        " reference): required for a longer retention or none, and stated in the public"
        " retention policy, so each hold and its lifting are dated in the log.")
    # Fewer candidates leak less about the gallery (and each needs a human to review it).
    max_candidates: int = Field(default=10, ge=1, le=50)
    # Applied by the API (consent.quota counts it), held here so the register states it.
    identify_daily_quota: int = Field(
        default=200,
        ge=1,
        description=(
            "1:N search attempts per API key per UTC day, counted from the audit log:"
            " mass searching is the harm to prevent."
        ),
    )
    # A subject's credential must outlive their longest consent, or they could not withdraw it.
    subject_token_days: int = Field(default=3 * 365 + 30, ge=1, le=LONGEST_DAYS)
    # The two bounds on the unsigned tail of the log (events no witnessed checkpoint covers
    # yet, lost unseen with a process killed unclean): capped, so no setting widens that window
    # to a day (MOST_EVENTS_PER_CHECKPOINT, LONGEST_WITNESS_INTERVAL_SECONDS), and stated in
    # the register (consent.register.promise_bounds).
    audit_checkpoint_every: int = Field(default=100, ge=1, le=MOST_EVENTS_PER_CHECKPOINT)
    # While events happen, the witness folder is never more than this far behind the log.
    audit_witness_interval_seconds: float = Field(default=60, gt=0,
                                                  le=LONGEST_WITNESS_INTERVAL_SECONDS)
    auth_failure_audit_seconds: int = Field(
        default=60,
        ge=1,
        le=LONGEST_INTERVAL_SECONDS,
        description="Failed authentications become one audit event per this many seconds.",
    )
    # LCCJTI art. 45: declared at least 60 days before service; an operator may wait longer.
    declaration_period_days: int = Field(default=60, ge=60, le=LONGEST_DAYS)
    sweep_interval_seconds: int = Field(default=3600, ge=1, le=LONGEST_INTERVAL_SECONDS)
    # One person per subject: a cap, and every enrolment after the first must match (issue 11).
    max_templates_per_subject: int = Field(default=5, ge=1)

    # Passkeys (WebAuthn): the person's own credential signs every act that creates or ends a
    # legal basis. The relying party id is the site's domain; origins are where the portal runs.
    passkey_rp_id: str = Field(default="localhost", min_length=1)
    passkey_rp_name: str = "optinface"
    passkey_origins: list[str] = Field(
        default=[],
        description="Origins allowed in clientDataJSON, each as a browser writes it"
        " (https://host[:port]; http on localhost only); empty = https://<rp id>, and any "
        "http(s)://localhost:<port> when the rp id is localhost (development).",
    )
    public_url: str = Field(
        default="http://localhost:8000",
        description="Base of the links handed to people: an http(s) URL with a host, no query"
        " nor fragment.",
    )
    enrolment_link_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    challenge_seconds: int = Field(default=300, ge=10, le=3600)
    # A second factor for admins over the HTTP API (consent.admin_mfa): off by default, so a
    # deployment that never set it acts, and keeps its declared register, as before.
    admin_mfa: bool = Field(
        default=False,
        description="Admin-only acts over the API also need a step-up token, signed for with "
        "the admin key's own passkey (the CLI and a break-glass key are exempt).",
    )
    # Short: a step-up copied along with its key opens the admin-only acts for this long at
    # most; never a passkey's replacement nor a new admin key (consent.admin_mfa).
    step_up_minutes: int = Field(default=15, ge=1, le=MAX_STEP_UP_MINUTES)

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, url: str | None) -> str | None:
        # Only the kind of URL is named: its value may hold the database's password.
        if url is not None and not is_supported_database(url):
            raise ValueError("not a SQLite (sqlite:///FILE) or PostgreSQL"
                             " (postgresql+psycopg://USER@HOST/NAME) URL")
        if url is not None and is_in_memory(url):
            raise ValueError("a SQLite database in memory is no ledger: it is lost when the"
                             " process ends (and each connection has its own); name a file,"
                             " sqlite:///FILE, or a PostgreSQL server")
        return url

    @field_validator("public_url")
    @classmethod
    def _base_of_links(cls, url: str) -> str:
        return require_base_url(url)

    @field_validator("passkey_origins")
    @classmethod
    def _browser_origins(cls, origins: list[str]) -> list[str]:
        return [require_origin(origin) for origin in origins]

    @model_validator(mode="after")
    def _origins_of_the_relying_party(self) -> ConsentSettings:
        for origin in self.passkey_origins:
            require_within(origin, self.passkey_rp_id)
        return self

    @model_validator(mode="after")
    def _token_outlives_consent(self) -> ConsentSettings:
        if self.subject_token_days < self.max_consent_days:
            raise ValueError(
                f"subject_token_days ({self.subject_token_days}) must be at least"
                f" max_consent_days ({self.max_consent_days}): a subject must be able to"
                " withdraw or erase for as long as any consent of theirs lasts")
        return self

    @model_validator(mode="after")
    def _log_kept_longer_only_under_a_hold(self) -> ConsentSettings:
        days = self.access_log_retention_days
        if (days is None or days > ACCESS_LOG_MAX_DAYS) and self.access_log_hold is None:
            raise ValueError(
                f"access_log_retention_days ({days or 'unset: kept whole'}) is over"
                f" {ACCESS_LOG_MAX_DAYS}: access logs are kept 6 to 12 months; longer only under"
                " an investigation hold (set access_log_hold to its reason)")
        return self

    @model_validator(mode="after")
    def _default_locations(self) -> ConsentSettings:
        if self.database_url is None:  # escaped: a "?" or "%" in a folder's name is no query
            self.database_url = URL.create(
                "sqlite", database=str(self.data_dir / "optinface.db")).render_as_string()
        data = self.data_dir.absolute()  # "." has no name to put a suffix on
        if self.key_dir is None:
            self.key_dir = data.with_name(f"{data.name}-keys")
        if self.audit_witness_dir is None:
            self.audit_witness_dir = data.with_name(f"{data.name}-witness")
        return self

    @property
    def hosting(self) -> Hosting:
        return Hosting(country=self.hosting_country, region=self.hosting_region,
                       provider=self.hosting_provider)

    @property
    def url(self) -> str:
        """The database URL, always set after validation."""
        assert self.database_url is not None
        return self.database_url

    @property
    def keys_dir(self) -> Path:
        """The key store's folder (always set after validation)."""
        assert self.key_dir is not None
        return self.key_dir

    @property
    def witness_dir(self) -> Path:
        """The witness folder (always set after validation)."""
        assert self.audit_witness_dir is not None
        return self.audit_witness_dir
