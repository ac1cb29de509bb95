"""AMCI settings: typed pydantic models loaded from YAML, overridable from the environment.

``load_settings(path, env)`` is called by ``amci serve`` only (the CLI is the one place that reads
files and the environment); tests build ``Settings(...)`` directly.

Environment overrides use the dotted key with ``__`` between levels, upper case, prefixed with
``AMCI_``: ``AMCI_SERVER__PORT=9000``, ``AMCI_UPSTREAM__TEST_API_BASE=http://127.0.0.1:12111``,
``AMCI_RATE_LIMIT__ENABLED=false``. Values are parsed as YAML scalars. Every model refuses unknown
keys (``extra="forbid"``), so a typo in the file or in a variable's name is an error; every error
names the key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from amci import money
from amci.store.base import StoreUrl, StoreUrlError

_FINGERPRINT_RE = re.compile(r"^[0-9a-f]{64}$")
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class SettingsError(ValueError):
    """A configuration value AMCI can't use; the message names the key."""


class _Section(BaseModel):
    """Every settings model: unknown keys are errors, no coercion between types (YAML's 25 is a
    number, "25" a string), immutable once loaded."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


Positive = Annotated[float, Field(gt=0)]


class ServerSettings(_Section):
    host: StrictStr = "127.0.0.1"
    port: Annotated[StrictInt, Field(ge=0, le=65535)] = 8080  # 0: any free port
    # A client must finish sending its request headers within this many seconds.
    request_header_timeout_seconds: Positive = 10.0


class StoreSettings(_Section):
    # sqlite:///PATH (one AMCI process) or postgresql://user@host:port/db (any number of
    # replicas sharing idempotency and Stripe's rate limits). None: SQLite at db_path.
    url: StrictStr | None = None
    # Shorthand for sqlite:///db_path; ":memory:" keeps nothing.
    db_path: StrictStr = "var/amci.sqlite3"

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                StoreUrl.parse(value)
            except StoreUrlError as exc:
                raise ValueError(str(exc)) from None
        return value

    @property
    def resolved_url(self) -> str:
        return self.url if self.url is not None else f"sqlite:///{self.db_path}"


class UpstreamSettings(_Section):
    # None: start the Stripe test-mode server inside AMCI (127.0.0.1, ephemeral port).
    test_api_base: StrictStr | None = None
    live_api_base: StrictStr = "https://api.stripe.com"
    # stripe-python's StripeClient makes no retries unless ``max_network_retries`` is given.
    max_network_retries: Annotated[StrictInt, Field(ge=0, le=10)] = 2
    timeout_seconds: Positive = 30.0
    # Connections per upstream host kept by the app's session.
    connection_limit: Annotated[StrictInt, Field(ge=1)] = 100


class RateLimitSettings(_Section):
    # docs.stripe.com/rate-limits: 25 requests/s in test mode (sandbox), 100/s live.
    enabled: StrictBool = True
    test_per_second: Positive = 25.0
    live_per_second: Positive = 100.0
    # A caller waits at most this long for its turn; beyond it AMCI answers 429 itself.
    max_wait_seconds: Annotated[float, Field(ge=0)] = 5.0
    # docs.stripe.com/rate-limits: "Individual API endpoints (unless otherwise noted): 25
    # requests per second". Enforced across replicas with a PostgreSQL store.
    endpoint_per_second: Positive = 25.0
    # With a PostgreSQL store, the share of those limits the replicas book together (calls
    # spaced 1 / (headroom × limit) apart): the margin absorbs how late a call reaches Stripe
    # after its slot. docs/amci.md#replicas has the measurements behind the default.
    headroom: Annotated[float, Field(gt=0, le=1)] = 0.9


class IdempotencySettings(_Section):
    # docs.stripe.com/api/idempotent_requests: keys are kept at least 24 hours.
    ttl_seconds: Annotated[StrictInt, Field(gt=0)] = 86_400


class EmbeddedTestmodeSettings(_Section):
    """The embedded Stripe test-mode server (used when ``upstream.test_api_base`` is null)."""

    db_path: StrictStr | None = "var/stripe-testmode.sqlite3"
    settlement_currency: StrictStr = "usd"
    rate_limit_per_second: Positive | None = 25.0
    # The base URL browsers reach AMCI at, for the embedded test mode's 3D Secure pages: AMCI
    # proxies /_testmode/authenticate/ to the embedded server (an ephemeral loopback port).
    # None: the address each request reached AMCI at.
    public_url: StrictStr | None = None


Secrets = Annotated[tuple[SecretStr, ...], BeforeValidator(_tuple), Field(max_length=2)]


class CallbackSettings(_Section):
    """Where AMCI posts a subscription's notifications, and the secrets it signs them with."""

    # The billing system's callback URL (http(s)); None: notifications are kept, not sent.
    url: StrictStr | None = None
    # The current secret first; during a rotation the previous one second (both sign).
    secrets: Secrets = ()

    @field_validator("url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value


class NotificationSettings(_Section):
    """Stripe's webhooks in, AMCI's notifications out (docs/amci.md, "Notifications")."""

    # The address Stripe (the test mode) reaches AMCI at; AMCI registers
    # {public_url}/v1/stripe/webhooks/{subscription} with the test mode. None:
    # http://{server.host}:{server.port}.
    public_url: StrictStr | None = None
    # Fernet key sealing the test-mode endpoints' whsec_ and the Stripe keys AMCI fetches
    # objects with. None: ``amci serve`` reads encryption_key_file, creating it (0600) if absent.
    encryption_key: SecretStr | None = None
    encryption_key_file: StrictStr = "var/amci-encryption.key"
    # The callback of subscriptions that configure none (``make run`` sets it).
    callback: CallbackSettings = CallbackSettings()
    # Delivery: each attempt waits this long for the billing system's answer; failed attempts
    # are retried with exponential backoff (1 s doubling, capped), for give_up_after_seconds.
    timeout_seconds: Positive = 10.0
    retry_max_seconds: Positive = 600.0
    give_up_after_seconds: Positive = 3 * 86_400.0
    # Register AMCI's endpoint with the test mode on a test key's first use.
    register_test_endpoints: StrictBool = True


class SubscriptionSettings(_Section):
    """One Add-on Mart subscription (the spec's pre-requisites)."""

    id: Annotated[StrictStr, Field(min_length=1)]
    name: StrictStr = ""
    active: StrictBool = True
    stripe_integration_activated: StrictBool = False
    # SHA-256 (hex) of each secret key that belongs to this subscription — never the keys.
    key_fingerprints: Annotated[tuple[StrictStr, ...], BeforeValidator(_tuple)] = ()
    # Dev convenience: any sk_test_/rk_test_ key belongs here (never live keys).
    allow_any_test_key: StrictBool = False
    # The Stripe account's settlement currency: its documented minimum applies to every
    # presentment currency after FX (docs.stripe.com/currencies, "Minimum charge amount").
    settlement_currency: StrictStr = "USD"
    # Per-currency minimums (decimal strings in major units) that replace the computed ones.
    minimum_overrides: Mapping[str, StrictStr] = Field(default_factory=dict)
    # Live mode: the signing secret (whsec_) of the endpoint created in Stripe's Dashboard for
    # {public_url}/v1/stripe/webhooks/{id} (README, "Stripe webhooks").
    stripe_webhook_secret: SecretStr | None = None
    # None: the top-level notifications.callback.
    callback: CallbackSettings | None = None

    @field_validator("key_fingerprints")
    @classmethod
    def _fingerprints(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for j, fp in enumerate(value):
            if not _FINGERPRINT_RE.match(fp):
                raise ValueError(
                    f"key_fingerprints[{j}]: expected a lower-case SHA-256 hex digest "
                    "(64 characters), not a key"
                )
        return value

    @field_validator("settlement_currency")
    @classmethod
    def _settlement(cls, value: str) -> str:
        try:
            settlement = money.currency(value)
        except money.MoneyError as exc:
            raise ValueError(exc.message) from None
        if settlement.min_charge_minor is None:
            raise ValueError(
                f"Stripe documents no minimum for {settlement.code}; pick a settlement currency "
                "from docs.stripe.com/currencies"
            )
        return value

    @field_validator("minimum_overrides", mode="before")
    @classmethod
    def _overrides(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        out: dict[str, Any] = {}
        for code, amount in value.items():
            if isinstance(amount, float):
                # Money is never a float: 0.46 unquoted in YAML is one.
                raise ValueError(f"minimum_overrides.{code}: quote decimal values (\"0.46\")")
            try:
                cur = money.currency(str(code))
                money.to_minor(amount, cur)
            except money.MoneyError as exc:
                raise ValueError(f"minimum_overrides.{code}: {exc.message}") from None
            out[cur.code] = amount
        return out


class Settings(_Section):
    server: ServerSettings = ServerSettings()
    store: StoreSettings = StoreSettings()
    upstream: UpstreamSettings = UpstreamSettings()
    rate_limit: RateLimitSettings = RateLimitSettings()
    idempotency: IdempotencySettings = IdempotencySettings()
    testmode: EmbeddedTestmodeSettings = EmbeddedTestmodeSettings()
    notifications: NotificationSettings = NotificationSettings()
    subscriptions: Annotated[tuple[SubscriptionSettings, ...], BeforeValidator(_tuple)] = ()
    # None: the FX table packaged with AMCI (amci/data/fx-rates.yaml).
    fx_rates_file: StrictStr | None = None
    log_level: Annotated[Literal[_LEVELS], BeforeValidator(  # type: ignore[valid-type]
        lambda v: v.upper() if isinstance(v, str) else v
    )] = "INFO"

    def callback(self, subscription: SubscriptionSettings) -> CallbackSettings:
        return subscription.callback or self.notifications.callback

    def subscription(self, sub_id: str) -> SubscriptionSettings | None:
        return next((s for s in self.subscriptions if s.id == sub_id), None)

    def public_url(self) -> str:
        configured = self.notifications.public_url
        if configured:
            return configured.rstrip("/")
        return f"http://{self.server.host}:{self.server.port}"

    @model_validator(mode="after")
    def _unique_ids(self) -> Settings:
        seen: set[str] = set()
        for i, sub in enumerate(self.subscriptions):
            if sub.id in seen:
                raise ValueError(f"subscriptions[{i}].id: duplicate subscription id {sub.id!r}")
            seen.add(sub.id)
        return self


# --- loading ---------------------------------------------------------------------------------


def load_settings(
    path: str | Path | None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """YAML file (optional) + ``AMCI_*`` environment overrides + ``overrides`` (the command
    line's flags, nested like the YAML) → ``Settings``; ``SettingsError`` names the key."""
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text())
        except OSError as exc:
            raise SettingsError(f"{path}: cannot read ({exc.strerror})") from None
        except yaml.YAMLError as exc:
            raise SettingsError(f"{path}: not valid YAML ({exc})") from None
        if loaded is not None:
            if not isinstance(loaded, dict):
                raise SettingsError(f"{path}: the top level must be a mapping")
            raw = loaded
    origins = apply_env(raw, os.environ if env is None else env)
    for section, values in (overrides or {}).items():
        node = raw.setdefault(section, {})
        if isinstance(node, dict):
            node.update(values)
    return from_mapping(raw, origins)


def apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """Merge ``AMCI_SECTION__KEY=value`` into ``raw`` (values parsed as YAML scalars); returns
    dotted key → variable name, so an error can name the variable too.

    Done here rather than with pydantic-settings' environment source, which reads only
    ``os.environ`` and silently skips names that match no field: a typo must be an error."""
    origins: dict[str, str] = {}
    for name, text in sorted(env.items()):
        if not name.startswith("AMCI_"):
            continue
        path = [part.lower() for part in name[len("AMCI_") :].split("__")]
        if not all(path):
            raise SettingsError(f"{name}: expected AMCI_<SECTION>__<KEY>")
        try:
            value = yaml.safe_load(text) if text != "" else None
        except yaml.YAMLError:
            value = text
        node = raw
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[path[-1]] = value
        origins[".".join(path)] = name
    return origins


def from_mapping(raw: Mapping[str, Any], origins: Mapping[str, str] | None = None) -> Settings:
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise SettingsError(describe(exc, origins)) from None


def describe(exc: ValidationError, origins: Mapping[str, str] | None = None) -> str:
    """The first error of a settings model as one line naming the key: ``unknown setting
    upstream.test_api_bas (from AMCI_UPSTREAM__TEST_API_BAS)``, ``server.port: …``."""
    err = exc.errors(include_url=False)[0]
    where = ""
    for part in err["loc"]:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    source = (origins or {}).get(where)
    tail = f" (from {source})" if source else ""
    if err["type"] == "extra_forbidden":
        return f"unknown setting {where}{tail}"
    if err["type"] == "missing":
        return f"{where}: required{tail}"
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "literal_error" and where == "log_level":
        message = f"expected one of {', '.join(_LEVELS)}, got {err['input']!r}"
    elif "input" in err and err["type"].endswith("_type"):
        message += f", got {err['input']!r}"
    if not where:
        return message + tail
    # A validator's message may already start with the field's own name.
    leaf = where.rsplit(".", 1)[-1]
    if message.startswith(f"{leaf}."):
        where = where.rsplit(".", 1)[0] if "." in where else ""
        return f"{where}.{message}{tail}" if where else message + tail
    if message.startswith(f"{leaf}["):
        where = where.rsplit(".", 1)[0] if "." in where else ""
        return f"{where}.{message}{tail}" if where else message + tail
    return f"{where}: {message}{tail}"
