"""Settings, read once from the environment (and an optional `.env`).

Every process (worker, bridge, CLI, dev stack) calls `load_settings()` at
start-up; a bad or missing value stops it with a message that names the
setting. Secrets are `SecretStr`, so they print as `**********` in reprs,
logs and tracebacks.

Every secret can also come from a file (Docker and Kubernetes secrets):
`X_FILE=/run/secrets/x` reads X from that file, trailing newline stripped.
X and X_FILE both set in one place (the environment, or `.env`) is an error
that names both; across the two, the environment wins over `.env` as it does
for every setting. The file is read as the settings load and `X_FILE` then
reads back as None: the settings hold the value itself, so a child process
given these settings (`ticketflow dev`'s worker) gets X alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from models.shadow import ShadowScope


class SettingsError(RuntimeError):
    """A setting is missing or invalid; the message names it."""


# The secrets that may come from a file, X_FILE: every SecretStr setting (a test
# keeps this list whole).
SECRET_FILE_SETTINGS = (
    "temporal_api_key",
    "database_url",
    "chatwoot_api_token",
    "pagerduty_routing_key",
    "pagerduty_routing_keys",
    "pagerduty_webhook_secret",
    "webhook_secret",
    "webhook_token",
    "console_operators",
    "slack_bot_token",
    "slack_signing_secret",
    "smtp_url",
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    # Temporal
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "ticketflow"
    temporal_api_key: SecretStr | None = None
    temporal_api_key_file: Path | None = None
    temporal_tls: bool = False
    temporal_tls_cert: Path | None = None  # client cert (mTLS), PEM
    temporal_tls_key: Path | None = None
    temporal_ui_url: str = "http://localhost:8233"

    # Postgres
    database_url: SecretStr | None = None  # may carry a password
    database_url_file: Path | None = None

    # Chatwoot
    chatwoot_base_url: AnyHttpUrl | None = None
    chatwoot_account_id: int | None = None
    chatwoot_api_token: SecretStr | None = None
    chatwoot_api_token_file: Path | None = None

    # PagerDuty
    pagerduty_events_url: AnyHttpUrl = AnyHttpUrl("https://events.pagerduty.com")
    pagerduty_routing_key: SecretStr | None = None
    pagerduty_routing_key_file: Path | None = None
    # Per-target keys named by policy packs:
    # PAGERDUTY_ROUTING_KEYS='{"lola": "...", "jonathan": "..."}'
    pagerduty_routing_keys: Annotated[dict[str, SecretStr], NoDecode] = Field(default_factory=dict)
    pagerduty_routing_keys_file: Path | None = None  # the same JSON object, in a file
    pagerduty_webhook_secret: SecretStr | None = None
    pagerduty_webhook_secret_file: Path | None = None

    # Slack (docs/operating.md, Connecting Slack): the bot token posts and edits messages; the
    # signing secret checks the button clicks Slack sends to /webhooks/slack. Both optional:
    # without them a pack that posts to Slack is refused at start-up (`pack check`).
    slack_bot_token: SecretStr | None = None  # xoxb-...
    slack_bot_token_file: Path | None = None
    slack_signing_secret: SecretStr | None = None
    slack_signing_secret_file: Path | None = None
    slack_api_url: AnyHttpUrl = AnyHttpUrl("https://slack.com/api")
    # E-mail: SMTP_URL='smtp://user:password@host:587' (STARTTLS), 'smtps://...:465' (TLS) or
    # 'smtp://host:25' (plain, a local relay). Optional, as Slack.
    smtp_url: SecretStr | None = None  # may carry a password
    smtp_url_file: Path | None = None
    email_from: str = "ticketflow <ticketflow@localhost>"
    # Where the console's ticket pages are, for links in Slack posts and e-mails
    # (default: the bridge's own address).
    console_url: str | None = None

    # Webhook bridge
    webhook_secret: SecretStr | None = None  # Chatwoot >= 4.12 HMAC signing secret
    webhook_secret_file: Path | None = None
    webhook_token: SecretStr | None = None  # older Chatwoot: shared token in URL or header
    webhook_token_file: Path | None = None
    bridge_host: str = "127.0.0.1"
    bridge_port: int = Field(default=8080, ge=0, le=65535)
    webhook_max_body_bytes: int = Field(default=256 * 1024, gt=0)
    # The address people reach the bridge (and its console, /console) at, e.g.
    # https://ticketflow.example.com: pages and private notes link to the console's ticket page,
    # PUBLIC_URL/console/tickets/<workflow id>. Unset: they carry no console link (the Temporal
    # Web UI and Chatwoot links only).
    public_url: AnyHttpUrl | None = None
    reconcile_every_seconds: int = Field(
        default=300, ge=30
    )  # the reconciliation schedule's interval
    # host:port where `ticketflow worker` serves Prometheus metrics (the Temporal SDK's and
    # ticketflow's business metrics) at /metrics; unset or "off": none. `ticketflow dev` has
    # its own flag.
    worker_metrics_address: str | None = None
    # Where the operator console reads the workers' metrics, to show on its board which outside
    # system is failing (console/system_health.py): their base URLs, comma-separated,
    # WORKER_METRICS_URLS="http://worker-1:9464,http://worker-2:9464" (each serves /metrics).
    # Unset: no such banner. `ticketflow dev` sets it to its worker's address.
    worker_metrics_urls: str | None = None
    # Operator console (/console): who may log in, as a JSON object token -> party id of the packs,
    # CONSOLE_OPERATORS='{"long-random-token": "lola"}'. Unset: the console is off (except
    # under `ticketflow dev`).
    console_operators: SecretStr | None = None
    console_operators_file: Path | None = None

    # Worker sizing. One worker keeps every open ticket in its workflow cache
    # (an evicted ticket replays its whole history on its next task), so the
    # cache is sized for 10k open tickets; a cached ticket costs ~tens of KiB.
    worker_max_cached_workflows: int = Field(default=10_000, ge=0)
    worker_max_concurrent_workflow_tasks: int = Field(default=100, ge=2)
    worker_max_concurrent_activities: int = Field(default=200, ge=1)
    worker_workflow_task_pollers: int = Field(default=5, ge=2)  # max concurrent workflow-task polls
    worker_activity_task_pollers: int = Field(default=5, ge=1)
    # How long a cached ticket's task waits for this worker (its sticky queue) before the server
    # hands it to any worker, which replays the ticket's history first. The SDK's 10 s expired
    # under a burst of deadlines and sent those tasks to the back of the queue (see README,
    # Performance); the price of longer: after a worker *crash* (not a graceful stop), a task
    # already given to it waits up to this long for another worker.
    worker_sticky_schedule_to_start_seconds: float = Field(default=30.0, gt=0)
    # Import workflows/ once for all tickets instead of once per ticket in its
    # sandbox (~130 KiB per cached ticket). engine/ and models/ are shared
    # already; the tests' workers keep the full sandbox, so its determinism
    # checks still run in CI.
    worker_share_workflow_modules: bool = True
    # Patch ids this worker replays but never turns on for a new run (the first release of a
    # rolling deploy, docs/deploying.md): WORKER_DORMANT_PATCHES="id1,id2". Empty: every patch
    # this code knows is active, as always.
    worker_dormant_patches: Annotated[frozenset[str], NoDecode] = Field(default_factory=frozenset)

    # Policies and logs
    policies_dir: Path = Path(__file__).resolve().parent.parent / "policies"
    default_policy: str = "vip-concierge"  # pack for conversations no inbox mapping names
    # Which pack runs a conversation, by Chatwoot inbox id: INBOX_POLICIES='{"3": "ops-ladder"}'
    inbox_policies: Annotated[dict[int, str], NoDecode] = Field(default_factory=dict)
    # Shadow mode (docs/deploying.md): tickets of these packs, or of these Chatwoot inboxes, run
    # the whole SOP but send nothing to Chatwoot or PagerDuty; the audit says what would have
    # been sent. Comma-separated: SHADOW_POLICIES="vip-concierge", SHADOW_INBOXES="3,5". Read by
    # the worker; a pack or inbox taken out goes live, running tickets at their next decision.
    shadow_policies: Annotated[frozenset[str], NoDecode] = Field(default_factory=frozenset)
    shadow_inboxes: Annotated[frozenset[int], NoDecode] = Field(default_factory=frozenset)
    log_format: str = Field(default="console", pattern="^(console|json)$")
    log_level: str = Field(default="info", pattern="^(?i)(debug|info|warning|error)$")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Each source resolves its own X_FILE, so "both set" means both in one place, and
        # the usual order (arguments, then the environment, then .env) decides between places.
        return tuple(
            _SecretFiles(source)
            for source in (init_settings, env_settings, dotenv_settings, file_secret_settings)
        )

    @field_validator("pagerduty_routing_keys", "inbox_policies", mode="before")
    @classmethod
    def _parse_keys(cls, value: object) -> object:
        if isinstance(value, str):
            import json

            try:
                return json.loads(value) if value.strip() else {}
            except json.JSONDecodeError as exc:
                raise ValueError(f"must be a JSON object ({exc.msg})") from None
        return value

    @field_validator("worker_dormant_patches", "shadow_policies", "shadow_inboxes", mode="before")
    @classmethod
    def _parse_patch_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(p.strip() for p in value.split(",") if p.strip())
        return value

    @field_validator("worker_metrics_address", mode="before")
    @classmethod
    def _metrics_address(cls, value: object) -> object:
        return check_metrics_address(value)

    @field_validator("worker_metrics_urls", mode="before")
    @classmethod
    def _metrics_urls(cls, value: object) -> object:
        return check_metrics_urls(value)

    @property
    def worker_metrics_url_list(self) -> tuple[str, ...]:
        """WORKER_METRICS_URLS, one base URL each (no trailing slash)."""
        return tuple(u for u in (self.worker_metrics_urls or "").split(",") if u)

    @property
    def chatwoot_configured(self) -> bool:
        return bool(self.chatwoot_base_url and self.chatwoot_account_id and self.chatwoot_api_token)

    @property
    def slack_configured(self) -> bool:
        return self.slack_bot_token is not None

    @property
    def email_configured(self) -> bool:
        return self.smtp_url is not None

    def console_link(self, wid: str) -> str:
        base = self.console_url or f"http://{self.bridge_host}:{self.bridge_port}/console"
        return f"{base.rstrip('/')}/tickets/{wid}"

    def web_ui_link(self, wid: str) -> str:
        return (
            f"{self.temporal_ui_url.rstrip('/')}/namespaces/{self.temporal_namespace}"
            f"/workflows/{wid}"
        )

    def chatwoot_link(self, account_id: int | None, conversation_id: int | None) -> str | None:
        if not (self.chatwoot_base_url and account_id and conversation_id):
            return None
        base = str(self.chatwoot_base_url).rstrip("/")
        return f"{base}/app/accounts/{account_id}/conversations/{conversation_id}"

    @property
    def pagerduty_configured(self) -> bool:
        return bool(self.pagerduty_routing_key or self.pagerduty_routing_keys)

    def policy_for_inbox(self, inbox_id: int | None) -> str:
        return (
            self.inbox_policies.get(inbox_id, self.default_policy)
            if inbox_id
            else self.default_policy
        )

    @property
    def shadow_scope(self) -> ShadowScope:
        """SHADOW_POLICIES and SHADOW_INBOXES, as the worker's policy activities read them."""
        return ShadowScope(set(self.shadow_policies), set(self.shadow_inboxes))

    def routing_key_for(self, name: str | None) -> SecretStr | None:
        """The routing key a policy names (`routing_key: lola`), else the default key."""
        if name and name in self.pagerduty_routing_keys:
            return self.pagerduty_routing_keys[name]
        return self.pagerduty_routing_key


class _SecretFiles(PydanticBaseSettingsSource):
    """One settings source with each X_FILE it sets replaced by X, read from the file."""

    def __init__(self, inner: PydanticBaseSettingsSource) -> None:
        super().__init__(inner.settings_cls)
        self.inner = inner
        self.__name__ = type(inner).__name__  # the name pydantic-settings files its data under

    def _set_current_state(self, state: dict[str, Any]) -> None:
        super()._set_current_state(state)
        self.inner._set_current_state(state)

    def _set_settings_sources_data(self, states: dict[str, dict[str, Any]]) -> None:
        super()._set_settings_sources_data(states)
        self.inner._set_settings_sources_data(states)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.inner.get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        data = dict(self.inner())
        problems = []
        for name in SECRET_FILE_SETTINGS:
            path = data.pop(f"{name}_file", None)
            if _unset(path):
                continue
            file_setting = f"{name}_file".upper()
            if not _unset(data.get(name)):
                # Never the values: one is a secret, and the other may be one too.
                problems.append(f"{name.upper()} and {file_setting} are both set: set one of them")
                continue
            try:
                data[name] = read_secret_file(Path(str(path)))
            except ValueError as exc:
                problems.append(f"{file_setting}: {exc}")
        if problems:
            raise SettingsError("invalid settings:\n" + "\n".join(f"  {p}" for p in problems))
        return data


def _unset(value: object) -> bool:
    """Not given, or given empty (`X=` in a compose file that passes an unset variable)."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value is None or (isinstance(value, str | Path) and str(value) == "")


def read_secret_file(path: Path) -> str:
    """A secret from its file, without the trailing newline `echo` and editors add.
    ValueError (naming the file, never its content) when it cannot be read or is empty."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text") from None
    value = text.rstrip("\r\n")
    if not value:
        raise ValueError(f"{path} is empty")
    return value


def check_metrics_address(value: object) -> str | None:
    """`host:port` for a metrics endpoint; empty or `off` means none."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "off")):
        return None
    host, _, port = str(value).strip().rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected host:port (e.g. 0.0.0.0:9464) or off, got {value!r}")
    return str(value).strip()


def check_metrics_urls(value: object) -> str | None:
    """Comma-separated http(s) base URLs, normalized (no spaces, no trailing slash);
    empty means none."""
    if value is None:
        return None
    urls = [u.strip().rstrip("/") for u in str(value).split(",") if u.strip()]
    for url in urls:
        scheme, _, rest = url.partition("://")
        if scheme not in ("http", "https") or not rest:
            raise ValueError(f"expected http(s)://host:port, comma-separated, got {url!r}")
    return ",".join(urls) or None


def _describe(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        name = "_".join(str(p) for p in e["loc"]).upper() or "settings"
        lines.append(f"  {name}: {e['msg']}")
    return "invalid settings:\n" + "\n".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Read and validate settings once; raise SettingsError naming what is wrong."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as err:
        raise SettingsError(_describe(err)) from None
