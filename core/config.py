"""The one Settings class: nothing else in gridcase reads the environment."""

from __future__ import annotations

import os
import ssl
import tempfile
from collections.abc import Callable
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.case import ContactRule
from domain.score import DEFAULT_WEIGHTS, check_weights

ROOT = Path(__file__).resolve().parent.parent
_POSTGRES_SCHEMES = ("postgresql+asyncpg://", "postgresql://", "postgres://")


class StartupError(RuntimeError):
    """A start that cannot work (a missing or invalid setting, a taken port, a server that is not
    installed): the command prints one line for the operator, no traceback."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDCASE_", extra="ignore")

    # External servers. Unset means: `gridcase up` starts the embedded ones.
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "GRIDCASE_DATABASE_URL")
    )
    temporal_address: str | None = Field(
        default=None,
        validation_alias=AliasChoices("TEMPORAL_ADDRESS", "GRIDCASE_TEMPORAL_ADDRESS"),
    )
    temporal_namespace: str = Field(
        default="default",
        validation_alias=AliasChoices("TEMPORAL_NAMESPACE", "GRIDCASE_TEMPORAL_NAMESPACE"),
    )
    task_queue: str = "cases"

    # The embedded stack (`gridcase up`): where it keeps its data and which ports it takes.
    data_dir: Path = ROOT / ".gridcase"
    temporal_host: str = "127.0.0.1"
    temporal_port: int = 7233
    temporal_ui_port: int = 8233

    api_host: str = "127.0.0.1"
    api_port: int = 8000

    config_dir: Path = ROOT / "config"
    case_prefix: str = "LC"
    # Seconds a client call to Temporal may take before the API answers 503.
    temporal_rpc_timeout: float = 10.0

    # The notification outbox: which gateway the sender delivers through (unset: the webhook
    # when its URL is set, else the worker's log), and the gateway's id of each notification
    # kind's template (a city registers its own), e.g. {"dispatched": "SMS_123456789"}.
    notify_gateway: Literal["log", "webhook", "aliyun_sms"] | None = None
    notify_webhook_url: str | None = None
    notify_templates: dict[str, str] = {}
    # Aliyun's SMS API (notify_gateway aliyun_sms): its endpoint, the AccessKey pair (the secret
    # from the environment, never a file in the repository) and the approved sign name.
    sms_url: str = "https://dysmsapi.aliyuncs.com/"
    sms_region: str = "cn-hangzhou"
    sms_access_key_id: str | None = None
    sms_access_key_secret: SecretStr | None = None
    sms_sign_name: str | None = None
    # A new case this close to an open one of the same category, received this recently, is
    # flagged as a possible duplicate (FixMyStreet suggests 250 m).
    duplicate_radius_m: float = 250.0
    duplicate_window_days: float = 30.0
    # Payload encryption: key id -> base64 AES-256 key, and the id new payloads use (default:
    # the last id in sorted order). Unset: keys kept in data_dir/codec-keys.json.
    codec_keys: dict[str, str] = {}
    codec_key_id: str | None = None
    # The codec server (/codec/*) wants an operator's (or admin's) bearer token, unless this is
    # set: `gridcase up` sets it for the laptop stack, whose dev UI cannot send a token.
    codec_open: bool = False
    # The console's demo sign-in page listing ready identities: `gridcase up` sets it for the
    # laptop stack (embedded Temporal) only, never against external servers.
    demo_signin: bool = False
    # The console map's background tiles (a city's own tile server, `{z}/{x}/{y}` URL); unset,
    # the map draws the grids' boundaries alone.
    map_tile_url: str | None = None
    # The Temporal UI's origins, allowed to call the codec server from the browser (empty: the
    # laptop UI at 127.0.0.1 and localhost on temporal_ui_port).
    ui_origins: list[str] = []
    # Bearer tokens: HS256 with this secret (unset: one kept in data_dir/jwt-secret), or an
    # identity provider's RS256/ES256 public key (PEM); issuer and audience are checked.
    jwt_secret: str | None = None
    jwt_public_key: str | None = None
    jwt_issuer: str = "gridcase"
    jwt_audience: str = "gridcase"
    # Public intake (residents' app, Open311): requests per client per minute.
    intake_rate_per_minute: int = 20
    max_body_bytes: int = 1_000_000
    # Keys Open311 clients must send to POST service requests (demo key for `make run`).
    open311_api_keys: list[str] = ["gridcase-demo-open311"]
    # Which of phone and email every reporter must give (phone_or_email, phone, email).
    contact_rule: ContactRule = ContactRule.phone_or_email
    # What Open311's public reads show: cases filed through these channels (never the reporter).
    open311_public_channels: list[str] = ["open311"]
    # A client's identical request within this many seconds is a retry: the first case answers.
    open311_retry_window_seconds: int = 600
    outbox_interval: float = 1.0
    # The worker's capacity: how many cases it keeps in memory (a cached case takes a signal or a
    # query without replaying its history), how many workflow tasks, activities and local
    # activities it runs at once, and how many polls for each kind of task it keeps open.
    # The cache should hold every open case a worker carries: one below that replays a case for
    # each signal or query (3x slower, measured), and one cached case costs ~0.25 MiB, so 5,000
    # fill ~1.4 GiB (README, Benchmark: "Many open cases"). The slots and pollers keep the
    # SDK's defaults: no run here varied them.
    worker_max_cached_workflows: int = Field(default=5000, ge=0)
    worker_max_concurrent_workflow_tasks: int = Field(default=100, ge=2)
    worker_max_concurrent_activities: int = Field(default=100, ge=1)
    worker_max_concurrent_local_activities: int = Field(default=100, ge=1)
    worker_workflow_task_pollers: int = Field(default=5, ge=2)
    worker_activity_task_pollers: int = Field(default=5, ge=1)
    # A notification the gateway did not take is tried again after a backoff that doubles from
    # `outbox_interval` up to this many seconds, and becomes a dead letter after this many
    # attempts (or at once when the gateway refuses it for good: a 4xx).
    outbox_backoff_cap: float = 600.0
    outbox_max_attempts: int = 10
    # Observability: `json` logs one JSON object a line (with request and case ids); a worker
    # serves the Temporal SDK's Prometheus metrics at this host:port when set (e.g. 0.0.0.0:9464).
    log_format: Literal["plain", "json"] = "plain"
    worker_metrics_address: str | None = None
    # 考评: each rate's weight in the monthly score (JSON: {"satisfaction": 0.4, ...}); a rate left
    # out does not count. Defaults in domain/score.py.
    score_weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_WEIGHTS))

    @field_validator("score_weights")
    @classmethod
    def _weights_of_rates(cls, weights: dict[str, float]) -> dict[str, float]:
        return check_weights(weights)

    @field_validator("database_url")
    @classmethod
    def _a_postgresql_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(_POSTGRES_SCHEMES):
            raise ValueError(f"must be a PostgreSQL URL, got {url.split(':', 1)[0]}://…")
        return url

    @property
    def sqlalchemy_url(self) -> str:
        """DATABASE_URL in the asyncpg dialect, whichever spelling the operator used."""
        if self.database_url is None:
            raise RuntimeError("DATABASE_URL is not set and no embedded PostgreSQL was started")
        url = self.database_url
        for prefix in _POSTGRES_SCHEMES:
            if url.startswith(prefix):
                return "postgresql+asyncpg://" + url[len(prefix) :]
        raise ValueError(f"DATABASE_URL must be a PostgreSQL URL, got {url.split(':', 1)[0]}://…")

    @property
    def temporal_target(self) -> str:
        return self.temporal_address or f"{self.temporal_host}:{self.temporal_port}"


# libpq's TLS parameters (what managed PostgreSQL services put in their URLs); asyncpg takes
# none of them as keywords, so they become its one `ssl` argument.
_LIBPQ_TLS = ("sslmode", "sslrootcert", "sslcert", "sslkey")
_VERIFYING = {"require", "verify-ca", "verify-full"}


def asyncpg_connection(sqlalchemy_url: str) -> tuple[str, dict[str, Any]]:
    """The URL without libpq's TLS parameters, and the connect arguments that say the same to
    asyncpg: `sslmode` as its `ssl` mode, or an SSL context when a certificate file is named
    (as libpq does, `require` with a root certificate verifies the server's certificate)."""
    head, _, query = sqlalchemy_url.partition("?")
    params = parse_qsl(query, keep_blank_values=True)
    tls = {k: v for k, v in params if k in _LIBPQ_TLS}
    if not tls:
        return sqlalchemy_url, {}
    rest = [(k, v) for k, v in params if k not in _LIBPQ_TLS]
    url = head + (f"?{urlencode(rest)}" if rest else "")
    mode = tls.get("sslmode", "prefer")
    if mode not in {"disable", "allow", "prefer", *_VERIFYING}:
        raise ValueError(f"DATABASE_URL: unknown sslmode {mode!r}")
    root, cert = tls.get("sslrootcert"), tls.get("sslcert")
    if mode not in _VERIFYING or not (root or cert):
        return url, {"ssl": mode}
    context = ssl.create_default_context(cafile=root)
    context.check_hostname = mode == "verify-full"
    if mode == "require" and not root:  # encrypt, but trust any server certificate
        context.verify_mode = ssl.CERT_NONE
    if cert:
        context.load_cert_chain(cert, tls.get("sslkey"))
    return url, {"ssl": context}


@lru_cache
def get_settings() -> Settings:
    return Settings()


@cache
def kept_secret(path: Path, make: Callable[[], str]) -> str:
    """A secret the laptop stack makes once (mode 0600) in its data folder and keeps, so cases
    and tokens survive a restart; read once per process. Deployments pass theirs in settings."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole under a temporary name, then linked into place: processes started
        # together never read a half-written file, and the first one's secret wins.
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:  # mkstemp's mode is 0600
                file.write(make())
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    return path.read_text(encoding="utf-8").strip()
