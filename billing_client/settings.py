"""Billing client settings: frozen dataclasses from YAML, overridable from the environment.

``load_settings(path, env)`` is called by the CLI only; tests build ``Settings(...)`` directly.
Environment overrides use the dotted key, ``__`` between levels, upper case, prefixed with
``BILLING_CLIENT_`` (the same scheme as AMCI): ``BILLING_CLIENT_SERVER__PORT=9090``,
``BILLING_CLIENT_AMCI__URL=http://amci:8080``, ``BILLING_CLIENT_CRYPTO__ENCRYPTION_KEY=…``.
Values are parsed as YAML scalars. Every error names the key.

YAML shape::

    server:  {host: 127.0.0.1, port: 8090, request_header_timeout_seconds: 10}
    amci:    {url: http://127.0.0.1:8080, timeout_seconds: 10}
    storage: {db_path: var/billing_client.sqlite3}
    reconcile: {interval_seconds: 30}   # 0 disables the background retry of pending transactions
    crypto:  {encryption_key: <Fernet key>}
    log_level: INFO
    demo:    # optional: a payment system created at start-up if none has this name
      payment_system: {name, processor, login, password, test_mode, enabled_methods, …}
      currencies: {USD: "0.5"}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import yaml

from billing_client.crypto import CryptoError, Secret, Vault

ENV_PREFIX = "BILLING_CLIENT_"


class SettingsError(ValueError):
    """A configuration value the billing client can't use; the message names the key."""


@dataclass(frozen=True, slots=True)
class DemoSettings:
    """A clearly-marked demo payment system, so a fresh install can take payments at once."""

    payment_system: Mapping[str, Any]
    currencies: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class Settings:
    encryption_key: Secret
    host: str = "127.0.0.1"
    port: int = 8090
    # A connection must deliver each request's headers this long after it opens or after the
    # previous response; then it is closed (slow clients; billing_client/serving.py).
    request_header_timeout_seconds: float = 10.0
    amci_url: str = "http://127.0.0.1:8080"
    amci_timeout_seconds: float = 10.0
    db_path: str = "var/billing_client.sqlite3"
    reconcile_interval_seconds: float = 30.0
    log_level: str = "INFO"
    demo: DemoSettings | None = None

    def __post_init__(self) -> None:
        if not (0 <= self.port < 65536):
            raise SettingsError(f"server.port: {self.port} is not a TCP port")
        parts = urlsplit(self.amci_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SettingsError(f"amci.url: {self.amci_url!r} is not an http(s) URL")
        if not self.request_header_timeout_seconds > 0:  # also refuses NaN
            raise SettingsError("server.request_header_timeout_seconds: must be > 0")
        if self.amci_timeout_seconds <= 0:
            raise SettingsError("amci.timeout_seconds: must be > 0")
        if not (0 <= self.reconcile_interval_seconds < float("inf")):  # also refuses NaN
            raise SettingsError(
                "reconcile.interval_seconds: must be a finite number >= 0 (0 disables it)"
            )
        try:
            Vault(self.encryption_key)
        except CryptoError as exc:
            raise SettingsError(f"crypto.encryption_key: {exc}") from None


def load_settings(path: str | Path | None, env: Mapping[str, str]) -> Settings:
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
    apply_env(raw, env)
    return from_mapping(raw)


def apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    for name, text in sorted(env.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split("__")]
        if not all(path):
            continue
        try:
            value = yaml.safe_load(text) if text != "" else None
        except yaml.YAMLError:
            value = text
        if isinstance(value, dict | list):  # env values are scalars: ":memory:" stays a string
            value = text
        node = raw
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[path[-1]] = value


def _section(raw: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = raw.get(name) or {}
    if not isinstance(value, Mapping):
        raise SettingsError(f"{name}: must be a mapping")
    return value


def _str(section: Mapping[str, Any], key: str, where: str, default: str) -> str:
    value = section.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise SettingsError(f"{where}: must be a string")
    return str(value)


def _number(section: Mapping[str, Any], key: str, where: str, default: float) -> float:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SettingsError(f"{where}: must be a number")
    return float(value)


def from_mapping(raw: Mapping[str, Any]) -> Settings:
    known = {"server", "amci", "storage", "reconcile", "crypto", "log_level", "demo"}
    for name in raw:
        if name not in known:
            raise SettingsError(f"{name}: unknown setting (known: {', '.join(sorted(known))})")
    server, amci = _section(raw, "server"), _section(raw, "amci")
    storage, crypto = _section(raw, "storage"), _section(raw, "crypto")
    reconcile = _section(raw, "reconcile")
    port: Any = server.get("port", 8090)
    if isinstance(port, bool) or not isinstance(port, int):
        raise SettingsError("server.port: must be an integer")
    key: Any = crypto.get("encryption_key")
    if not isinstance(key, str) or not key:
        raise SettingsError(
            "crypto.encryption_key: required (a Fernet key; "
            "env BILLING_CLIENT_CRYPTO__ENCRYPTION_KEY)"
        )
    demo: DemoSettings | None = None
    demo_raw = raw.get("demo")
    if demo_raw:
        if not isinstance(demo_raw, Mapping) or not isinstance(
            demo_raw.get("payment_system"), Mapping
        ):
            raise SettingsError("demo.payment_system: must be a mapping")
        currencies = demo_raw.get("currencies") or {}
        if not isinstance(currencies, Mapping):
            raise SettingsError("demo.currencies: must map currency codes to minimum payments")
        demo = DemoSettings(
            payment_system=MappingProxyType(dict(demo_raw["payment_system"])),
            currencies=MappingProxyType({str(k): str(v) for k, v in currencies.items()}),
        )
    return Settings(
        encryption_key=Secret(key),
        host=_str(server, "host", "server.host", "127.0.0.1"),
        port=port,
        request_header_timeout_seconds=_number(
            server, "request_header_timeout_seconds", "server.request_header_timeout_seconds", 10.0
        ),
        amci_url=_str(amci, "url", "amci.url", "http://127.0.0.1:8080"),
        amci_timeout_seconds=_number(amci, "timeout_seconds", "amci.timeout_seconds", 10.0),
        db_path=_str(storage, "db_path", "storage.db_path", "var/billing_client.sqlite3"),
        reconcile_interval_seconds=_number(
            reconcile, "interval_seconds", "reconcile.interval_seconds", 30.0
        ),
        log_level=_str(raw, "log_level", "log_level", "INFO").upper(),
        demo=demo,
    )
