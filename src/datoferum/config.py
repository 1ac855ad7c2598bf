"""One typed settings object, read once from the environment.

Every option is documented by its ``description``; ``docs/configuration.md`` and the README's
table are checked against these fields by a test, so an undocumented option fails the suite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
TiB = 1024 * GiB


class Settings(BaseSettings):
    """Runtime configuration; environment variables are named ``DATOFERUM_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="DATOFERUM_", extra="ignore", frozen=True)

    home: Path = Field(
        default=Path("data"),
        description="Data directory: catalog, stored bytes, staging area and the admin token.",
    )
    host: str = Field(default="127.0.0.1", description="Address the server binds to.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port the server listens on.")
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Server worker processes (each runs its own event loop).",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the catalog; default `sqlite:///<home>/catalog.db`.",
    )
    durability: Literal["full", "relaxed"] = Field(
        default="full",
        description=(
            "`full`: bytes, directory entries and catalog commits reach stable storage before an "
            "upload is answered. `relaxed`: they are left to the operating system (faster for "
            "small files; a power loss may lose the newest uploads, as with most object stores)."
        ),
    )
    sqlite_cache_mib: int = Field(
        default=64,
        ge=1,
        description="Page cache of each SQLite catalog connection, in MiB (allocated as used). "
        "Every upload inserts into a dozen indexes at random places; once the catalog outgrows "
        "the cache, each of those is a read from the file.",
    )
    storage_root: Path | None = Field(
        default=None, description="Directory of the local-disk backend; default `<home>/objects`."
    )
    storage_config: Path | None = Field(
        default=None,
        description="Storage layout: the backends (local, HDFS, S3) and storage policies, in "
        "YAML (see docs/storage.md); default `<home>/storage.yaml` if it exists, else one local "
        "disk.",
    )
    vault_addr: str | None = Field(
        default=None,
        description="Vault or OpenBao server that backend credentials written as "
        '`{vault: "path#field"}` are read from.',
    )
    vault_token: SecretStr | None = Field(
        default=None, description="Token for `vault_addr` (needs read access to those secrets)."
    )
    vault_mount: str = Field(
        default="secret", description="Mount point of the KV version 2 engine in Vault."
    )
    max_upload_bytes: int = Field(
        default=5 * TiB, ge=0, description="Largest body a single PUT may carry, in bytes."
    )
    otlp_collection: str = Field(
        default="telemetry",
        pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$",
        description="Collection that OTLP export requests (`POST /v1/traces`, `/v1/metrics`, "
        "`/v1/logs`) are captured into, one file per request.",
    )
    otlp_max_request_bytes: int = Field(
        default=16 * MiB,
        ge=1 * KiB,
        le=1 * GiB,
        description="Largest OTLP export request, in bytes, both as sent and once decompressed; "
        "a larger one is refused with 413.",
    )
    upload_buffer_bytes: int = Field(
        default=1 * MiB,
        ge=4 * KiB,
        le=64 * MiB,
        description="Bytes gathered from the network before each write to storage.",
    )
    small_file_journal_bytes: int = Field(
        default=64 * KiB,
        ge=0,
        le=1 * MiB,
        description="Uploads up to this size to the local disk are made durable by the catalog "
        "commit that records them and flushed to their files later, in batches: one flush per "
        "small upload instead of three (0: every upload flushes its own file).",
    )
    journal_flush_seconds: float = Field(
        default=1.0,
        gt=0,
        le=3600,
        description="How often the files of journaled small uploads are flushed to disk and "
        "their bytes dropped from the catalog.",
    )
    sweep_interval_seconds: float = Field(
        default=600.0,
        ge=0,
        description="Seconds between sweeps for abandoned uploads (0 sweeps only at start-up).",
    )
    job_threads: int = Field(
        default=1,
        ge=0,
        le=64,
        description="Job worker threads per server process (0: leave jobs to `datoferum worker`).",
    )
    job_lease_seconds: float = Field(
        default=60.0,
        ge=1,
        le=86400,
        description="How long a claimed job stays with its worker between heartbeats; after a "
        "crash, another worker takes the job over once this has run out.",
    )
    policy_dir: Path | None = Field(
        default=None,
        description="Policy YAML files applied at start-up; default `<home>/policies`.",
    )
    retention_sweep_cron: str = Field(
        default="* * * * *",
        description="When versions whose retention has run out get their expiry action (cron).",
    )
    scrub_cron: str = Field(
        default="0 3 * * *",
        description="When scrubs re-read every copy to check and repair it (cron).",
    )
    scrub_bytes_per_second: float = Field(
        default=64 * MiB,
        ge=0,
        description="Most bytes a second a scrub reads, so it never starves uploads (0: no limit).",
    )
    scheduler_seconds: float = Field(
        default=5.0, gt=0, description="How often scheduled policies are checked for due runs."
    )
    bootstrap_token: SecretStr | None = Field(
        default=None,
        description="If set, this value becomes the first admin token (else one is generated).",
    )
    token_cache_seconds: float = Field(
        default=2.0,
        ge=0,
        description="How long a process trusts a token lookup; revocations in other processes "
        "take effect within this time.",
    )
    webhook_dispatch_seconds: float = Field(
        default=1.0,
        ge=0,
        description="How often each process turns new events into webhook deliveries and sends "
        "the due ones (0: this process sends no webhooks).",
    )
    webhook_timeout_seconds: float = Field(
        default=15.0,
        gt=0,
        le=300,
        description="How long a webhook receiver has to answer one delivery attempt.",
    )
    webhook_max_attempts: int = Field(
        default=8,
        ge=1,
        le=100,
        description="Attempts per webhook delivery before it is marked `dead`; retries back off "
        "exponentially, from about 2 s up to 10 minutes apart.",
    )
    lake_watch_seconds: float = Field(
        default=1.0,
        ge=0,
        description="How often each process looks for newly captured files a lake source "
        "recognises (billing exports) and queues their normalization (0: this process does not).",
    )
    lake_query_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Longest time one lake query (cost, top, SQL) may run before it is stopped.",
    )
    lake_query_rows: int = Field(
        default=10_000,
        ge=1,
        le=1_000_000,
        description="Most rows a lake SQL query returns; longer answers are cut and marked "
        "`truncated`.",
    )
    lake_query_memory: str = Field(
        default="1GB",
        pattern=r"^[0-9]+(\.[0-9]+)?\s*[KMGT]i?B$",
        description="Memory one lake query may use (DuckDB's `memory_limit`, e.g. `512MB`).",
    )
    storage_prices: str = Field(
        default="",
        pattern=r"^\s*([A-Za-z0-9_.-]+\s*=\s*[0-9]+(\.[0-9]+)?\s*(,\s*|$))*$",
        description="Price of storage per backend per GiB-month, as `backend=price` pairs "
        "(`local=0.02,s3=0.023`): Datoferum's own storage cost, written to the lake as FOCUS "
        "rows (a backend not named costs 0).",
    )
    storage_price_currency: str = Field(
        default="USD",
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217 currency of `DATOFERUM_STORAGE_PRICES`.",
    )
    storage_cost_cron: str = Field(
        default="30 0 * * *",
        description="When the day's own storage cost is written to the lake (cron); the newest "
        "run of a day replaces that day's rows.",
    )
    subject_key: str = Field(
        default="subject",
        pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$",
        description="Metadata key that names a file's data subject (`X-Meta-Subject`); erasure "
        "requests match on it unless they name another key.",
    )
    oidc_issuer: str | None = Field(
        default=None,
        description="Issuer URL of an OpenID Connect provider whose access tokens the API "
        "accepts beside API tokens, e.g. a Keycloak realm `https://sso.example/realms/acme`; "
        "the web UI then offers sign-in there (Authorization Code with PKCE). Unset: API "
        "tokens only.",
    )
    oidc_client_id: str = Field(
        default="datoferum-web",
        description="The web UI's client at the OpenID Connect provider (a public client with "
        "PKCE); access tokens issued to it are accepted.",
    )
    oidc_audience: str | None = Field(
        default=None,
        description="Also accept provider tokens whose `aud` names this value (for other "
        "clients, given an audience mapper at the provider).",
    )
    oidc_roles_claim: str = Field(
        default="realm_access.roles",
        description="Dotted path of the access-token claim that lists the user's roles "
        "(Keycloak's realm roles by default).",
    )
    oidc_role_prefix: str = Field(
        default="datoferum-",
        description="Provider roles named this prefix + a Datoferum role (`datoferum-admin`, "
        "`datoferum-producer`, `datoferum-consumer`, `datoferum-auditor`) grant that role.",
    )
    web_root: Path | None = Field(
        default=None,
        description="Directory of the built web UI (`index.html` and `assets/`), served at `/`; "
        "default `web/dist` of the source checkout.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Server log level."
    )

    @field_validator("home", "storage_root", "policy_dir", "storage_config", "web_root")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        return value.expanduser().absolute() if value is not None else None

    @property
    def storage_price_table(self) -> dict[str, float]:
        """``storage_prices`` as backend → price per GiB-month."""
        pairs = (item.split("=", 1) for item in self.storage_prices.split(",") if item.strip())
        return {name.strip(): float(price) for name, price in pairs}

    @property
    def catalog_url(self) -> str:
        """The effective catalog URL."""
        return self.database_url or f"sqlite:///{self.home / 'catalog.db'}"

    @property
    def sqlite_synchronous(self) -> str:
        """SQLite's ``synchronous`` mode for the chosen durability."""
        return "FULL" if self.durability == "full" else "NORMAL"

    @property
    def policies_directory(self) -> Path:
        """Where policy files are read from at start-up."""
        return self.policy_dir or self.home / "policies"

    @property
    def local_storage_root(self) -> Path:
        """The effective directory of the local-disk backend."""
        return self.storage_root or self.home / "objects"

    @property
    def storage_file(self) -> Path | None:
        """The storage layout file in effect, if any."""
        if self.storage_config is not None:
            return self.storage_config
        found = self.home / "storage.yaml"
        return found if found.is_file() else None

    @property
    def web_directory(self) -> Path:
        """Where the built web UI is read from."""
        return self.web_root or Path(__file__).resolve().parents[2] / "web" / "dist"

    @property
    def admin_token_file(self) -> Path:
        """Where a generated first admin token is written (mode 0600)."""
        return self.home / "admin.token"
