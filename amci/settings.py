"""AMCI settings: frozen dataclasses loaded from YAML, overridable from the environment.

``load_settings(path, env)`` is called by ``amci serve`` only (the CLI is the one place that reads
files and the environment); tests build ``Settings(...)`` directly.

Environment overrides use the dotted key with ``__`` between levels, upper case, prefixed with
``AMCI_``: ``AMCI_SERVER__PORT=9000``, ``AMCI_UPSTREAM__TEST_API_BASE=http://127.0.0.1:12111``,
``AMCI_RATE_LIMIT__ENABLED=false``. Values are parsed as YAML scalars. Every error names the key.
"""

from __future__ import annotations

import dataclasses
import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from amci import money
from amci.store.base import StoreUrl, StoreUrlError

_FINGERPRINT_RE = re.compile(r"^[0-9a-f]{64}$")


class SettingsError(ValueError):
    """A configuration value AMCI can't use; the message names the key."""


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8080


@dataclass(frozen=True, slots=True)
class StoreSettings:
    # sqlite:///PATH (one AMCI process) or postgresql://user@host:port/db (any number of
    # replicas sharing idempotency and Stripe's rate limits). Null: SQLite at db_path.
    url: str | None = None
    # Shorthand for sqlite:///db_path; ":memory:" keeps nothing.
    db_path: str = "var/amci.sqlite3"

    @property
    def resolved_url(self) -> str:
        return self.url if self.url is not None else f"sqlite:///{self.db_path}"


@dataclass(frozen=True, slots=True)
class UpstreamSettings:
    # None: start the Stripe test-mode server inside AMCI (127.0.0.1, ephemeral port).
    test_api_base: str | None = None
    live_api_base: str = "https://api.stripe.com"
    # StripeClient makes no retries unless told (stack-notes: the SDK default there is 0).
    max_network_retries: int = 2
    timeout_seconds: float = 30.0
    # Connections per upstream host kept by the app's session.
    connection_limit: int = 100


@dataclass(frozen=True, slots=True)
class RateLimitSettings:
    # docs.stripe.com/rate-limits: 25 requests/s in test mode (sandbox), 100/s live.
    enabled: bool = True
    test_per_second: float = 25.0
    live_per_second: float = 100.0
    # A caller waits at most this long for its turn; beyond it AMCI answers 429 itself.
    max_wait_seconds: float = 5.0
    # docs.stripe.com/rate-limits: "Individual API endpoints (unless otherwise noted): 25
    # requests per second". Enforced across replicas with a PostgreSQL store.
    endpoint_per_second: float = 25.0


@dataclass(frozen=True, slots=True)
class IdempotencySettings:
    # docs.stripe.com/api/idempotent_requests: keys are kept at least 24 hours.
    ttl_seconds: int = 86_400


@dataclass(frozen=True, slots=True)
class EmbeddedTestmodeSettings:
    """The embedded Stripe test-mode server (used when ``upstream.test_api_base`` is null)."""

    db_path: str | None = "var/stripe-testmode.sqlite3"
    settlement_currency: str = "usd"
    rate_limit_per_second: float | None = 25.0


@dataclass(frozen=True, slots=True)
class SubscriptionSettings:
    """One Add-on Mart subscription (the spec's pre-requisites)."""

    id: str
    name: str = ""
    active: bool = True
    stripe_integration_activated: bool = False
    # SHA-256 (hex) of each secret key that belongs to this subscription — never the keys.
    key_fingerprints: tuple[str, ...] = ()
    # Dev convenience: any sk_test_/rk_test_ key belongs here (never live keys).
    allow_any_test_key: bool = False
    # The Stripe account's settlement currency: its documented minimum applies to every
    # presentment currency after FX (docs.stripe.com/currencies, "Minimum charge amount").
    settlement_currency: str = "USD"
    # Per-currency minimums (decimal strings in major units) that replace the computed ones.
    minimum_overrides: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    upstream: UpstreamSettings = field(default_factory=UpstreamSettings)
    rate_limit: RateLimitSettings = field(default_factory=RateLimitSettings)
    idempotency: IdempotencySettings = field(default_factory=IdempotencySettings)
    testmode: EmbeddedTestmodeSettings = field(default_factory=EmbeddedTestmodeSettings)
    subscriptions: tuple[SubscriptionSettings, ...] = ()
    # None: the FX table packaged with AMCI (amci/data/fx-rates.yaml).
    fx_rates_file: str | None = None
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        validate(self)


def validate(settings: Settings) -> None:
    """Cross-field checks; raise ``SettingsError`` naming the key."""
    if not 0 < settings.server.port < 65536 and settings.server.port != 0:
        raise SettingsError(f"server.port: {settings.server.port} is not a TCP port")
    if settings.upstream.max_network_retries < 0:
        raise SettingsError("upstream.max_network_retries: must be >= 0")
    for key, value in (
        ("rate_limit.test_per_second", settings.rate_limit.test_per_second),
        ("rate_limit.live_per_second", settings.rate_limit.live_per_second),
        ("rate_limit.endpoint_per_second", settings.rate_limit.endpoint_per_second),
    ):
        if value <= 0:
            raise SettingsError(f"{key}: must be > 0")
    try:
        StoreUrl.parse(settings.store.resolved_url)
    except StoreUrlError as exc:
        raise SettingsError(f"store.url: {exc}") from None
    seen: set[str] = set()
    for i, sub in enumerate(settings.subscriptions):
        where = f"subscriptions[{i}]"
        if not sub.id:
            raise SettingsError(f"{where}.id: must not be empty")
        if sub.id in seen:
            raise SettingsError(f"{where}.id: duplicate subscription id {sub.id!r}")
        seen.add(sub.id)
        for j, fp in enumerate(sub.key_fingerprints):
            if not _FINGERPRINT_RE.match(fp):
                raise SettingsError(
                    f"{where}.key_fingerprints[{j}]: expected a lower-case SHA-256 hex digest "
                    "(64 characters), not a key"
                )
        try:
            settlement = money.currency(sub.settlement_currency)
        except money.MoneyError as exc:
            raise SettingsError(f"{where}.settlement_currency: {exc.message}") from None
        if settlement.min_charge_minor is None:
            raise SettingsError(
                f"{where}.settlement_currency: Stripe documents no minimum for "
                f"{settlement.code}; pick a settlement currency from docs.stripe.com/currencies"
            )
        for code, amount in sub.minimum_overrides.items():
            key = f"{where}.minimum_overrides.{code}"
            try:
                cur = money.currency(code)
                money.to_minor(amount, cur)
            except money.MoneyError as exc:
                raise SettingsError(f"{key}: {exc.message}") from None


# --- loading ---------------------------------------------------------------------------------


def load_settings(path: str | Path | None, env: Mapping[str, str] | None = None) -> Settings:
    """YAML file (optional) + ``AMCI_*`` environment overrides → ``Settings``."""
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
    apply_env(raw, os.environ if env is None else env)
    return from_mapping(raw)


def apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    for name, text in sorted(env.items()):
        if not name.startswith("AMCI_"):
            continue
        path = [part.lower() for part in name[len("AMCI_") :].split("__")]
        if not path or not all(path):
            continue
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


def from_mapping(raw: Mapping[str, Any]) -> Settings:
    settings = _build(Settings, raw, "")
    assert isinstance(settings, Settings)
    return settings


def _build(cls: type[Any], raw: Any, where: str) -> Any:
    if not isinstance(raw, Mapping):
        raise SettingsError(f"{where or 'settings'}: expected a mapping, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(map(str, raw)) - names)
    if unknown:
        raise SettingsError(f"{_join(where, unknown[0])}: unknown setting")
    kwargs = {
        name: _coerce(hints[name], raw[name], _join(where, name)) for name in names if name in raw
    }
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required field is missing
        missing = [
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
            and f.name not in raw
        ]
        if missing:
            raise SettingsError(f"{_join(where, missing[0])}: required") from None
        raise SettingsError(f"{where}: {exc}") from None


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, where)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where)  # type: ignore[arg-type]
    if origin is tuple:
        if value is None:
            return ()
        if not isinstance(value, list | tuple):
            raise SettingsError(f"{where}: expected a list")
        return tuple(_coerce(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin in (Mapping, dict) or tp is Mapping:
        if value is None:
            return MappingProxyType({})
        if not isinstance(value, Mapping):
            raise SettingsError(f"{where}: expected a mapping")
        return MappingProxyType(
            {str(k).upper(): _coerce(args[1], v, f"{where}.{k}") for k, v in value.items()}
        )
    if tp is bool:
        if not isinstance(value, bool):
            raise SettingsError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingsError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SettingsError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if isinstance(value, float):
            # Money is never a float: 0.46 unquoted in YAML is one.
            raise SettingsError(f"{where}: expected a string; quote decimal values (\"0.46\")")
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise SettingsError(f"{where}: expected a string, got {value!r}")
        return str(value)
    raise SettingsError(f"{where}: unsupported setting type {tp!r}")  # pragma: no cover
