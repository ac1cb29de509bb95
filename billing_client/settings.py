"""Billing client settings, typed (pydantic) and loaded through pydantic-settings.

``Settings`` is what the app receives; tests build it directly. ``load_settings(path, env,
overrides)`` is called by the CLI only: the YAML file, then ``BILLING_CLIENT_*`` environment
overrides, then command-line flags, each winning over the one before. Environment overrides use
the dotted key, ``__`` between levels, upper case, prefixed with ``BILLING_CLIENT_`` (the same
scheme as AMCI): ``BILLING_CLIENT_SERVER__PORT=9090``, ``BILLING_CLIENT_AMCI__URL=…``,
``BILLING_CLIENT_CRYPTO__ENCRYPTION_KEY=…``.

Unknown keys are errors, never ignored — in the file and in the environment alike
(``BILLING_CLIENT_SERVR__PORT`` is refused, naming it). Every error names the key.

YAML shape::

    server:  {host: 127.0.0.1, port: 8090, request_header_timeout_seconds: 10}
    amci:    {url: http://127.0.0.1:8080, timeout_seconds: 10}
    storage: {db_path: var/billing_client.sqlite3}   # SQLite shorthand
    store:   {url: postgresql://billing@db:5432/billing}  # or sqlite:///PATH; wins over db_path
    reconcile: {interval_seconds: 30}   # 0 disables the background retry of pending transactions
    crypto:  {encryption_key: <Fernet key>}
    log_level: INFO
    web:     {session_idle_seconds: 1800, session_max_seconds: 43200, secure_cookies: null}
    demo:    # optional: a payment system created at start-up if none has this name
      payment_system: {name, processor, login, password, test_mode, enabled_methods, …}
      currencies: {USD: "0.5"}
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from billing_client.crypto import CryptoError, Secret, Vault
from billing_client.storage.common import StorageError, StoreUrl

ENV_PREFIX = "BILLING_CLIENT_"
DEFAULT_CONFIG = Path("config/billing_client.yaml")  # read when present and no --config


class SettingsError(ValueError):
    """A configuration value the billing client can't use; the message names the key."""


class DemoSettings(BaseModel):
    """A clearly-marked demo payment system, so a fresh install can take payments at once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    payment_system: dict[str, Any]
    currencies: dict[str, str] = Field(default_factory=dict)

    @field_validator("currencies", mode="before")
    @classmethod
    def _minimums_as_text(cls, value: Any) -> Any:
        # YAML reads `USD: 0.5` as a float; the minimum is a decimal string like every amount.
        if isinstance(value, Mapping):
            return {str(k): str(v) for k, v in value.items()}
        return value


class Settings(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, arbitrary_types_allowed=True, validate_default=True
    )

    encryption_key: Secret
    host: str = "127.0.0.1"
    port: int = Field(8090, ge=0, le=65535)
    # How long a client may take to send its request line and headers (the slow-client guard).
    request_header_timeout_seconds: float = Field(10.0, gt=0, allow_inf_nan=False)
    amci_url: str = "http://127.0.0.1:8080"
    amci_timeout_seconds: float = Field(10.0, gt=0, allow_inf_nan=False)
    # The secrets AMCI signs its notifications with (AMCI-Signature): the current one, and
    # during a rotation the previous one too. None configured: notifications are refused.
    amci_notification_secrets: tuple[Secret, ...] = Field((), max_length=2)
    db_path: str = Field("var/billing_client.sqlite3", min_length=1)
    # sqlite:///PATH (one billing-client process) or postgresql://user@host:port/db (any
    # number of processes). None: SQLite at db_path.
    store_url: str | None = None
    reconcile_interval_seconds: float = Field(30.0, ge=0, allow_inf_nan=False)
    log_level: Literal["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"] = "INFO"
    demo: DemoSettings | None = None
    # Console and portal sessions: ended after this long without a request, and this long after
    # sign-in whatever happens.
    session_idle_seconds: float = Field(1800.0, gt=0, allow_inf_nan=False)
    session_max_seconds: float = Field(43200.0, gt=0, allow_inf_nan=False)
    # The session cookie's Secure flag: None (default) sets it when the request came over TLS or
    # the billing client is reached at an https:// address; true forces it (behind a TLS proxy).
    secure_cookies: bool | None = None

    @field_validator(
        "port",
        "session_idle_seconds",
        "session_max_seconds",
        "request_header_timeout_seconds",
        "amci_timeout_seconds",
        "reconcile_interval_seconds",
        mode="before",
    )
    @classmethod
    def _not_a_boolean(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be a number, not true/false")
        return value

    @field_validator("encryption_key", mode="before")
    @classmethod
    def _fernet_key(cls, value: Any) -> Secret:
        if isinstance(value, str) and value:
            value = Secret(value)
        if not isinstance(value, Secret):
            raise ValueError(f"required (a Fernet key; env {ENV_PREFIX}CRYPTO__ENCRYPTION_KEY)")
        try:
            Vault(value)
        except CryptoError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("amci_notification_secrets", mode="before")
    @classmethod
    def _secrets(cls, value: Any) -> Any:
        if isinstance(value, str):  # from the environment: comma-separated
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            return tuple(v if isinstance(v, Secret) else Secret(str(v)) for v in value)
        return value

    @field_validator("amci_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value

    @field_validator("store_url")
    @classmethod
    def _store_url(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                StoreUrl.parse(value)
            except StorageError as exc:
                raise ValueError(str(exc)) from None
        return value

    @property
    def store(self) -> str:
        """What ``Storage`` opens: ``store.url``, else the SQLite file ``storage.db_path``."""
        return self.store_url if self.store_url is not None else self.db_path

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


# Each setting → its key in the YAML file (and so its environment variable).
FILE_KEYS: Mapping[str, str] = {
    "host": "server.host",
    "port": "server.port",
    "request_header_timeout_seconds": "server.request_header_timeout_seconds",
    "amci_url": "amci.url",
    "amci_timeout_seconds": "amci.timeout_seconds",
    "amci_notification_secrets": "amci.notification_secrets",
    "db_path": "storage.db_path",
    "store_url": "store.url",
    "reconcile_interval_seconds": "reconcile.interval_seconds",
    "encryption_key": "crypto.encryption_key",
    "log_level": "log_level",
    "demo": "demo",
    "session_idle_seconds": "web.session_idle_seconds",
    "session_max_seconds": "web.session_max_seconds",
    "secure_cookies": "web.secure_cookies",
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _ConfigFile(BaseSettings):
    """The file's shape: sections of keys, nothing else (values are checked by ``Settings``)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only what load_settings gives: the environment is the one it was handed (_Environment).
        return (init_settings,)


def _file_model() -> type[_ConfigFile]:
    sections: dict[str, dict[str, Any]] = {}
    top: dict[str, Any] = {}
    for key in FILE_KEYS.values():
        section, _, name = key.rpartition(".")
        if section:
            sections.setdefault(section, {})[name] = (Any, None)
        else:
            top[key] = (Any, None)
    for section, fields in sections.items():
        model = create_model(f"{section.title()}Section", __base__=_Section, **fields)
        top[section] = (model | None, None)
    return create_model("ConfigFile", __base__=_ConfigFile, **top)


_CONFIG_FILE = _file_model()


class _Environment(EnvSettingsSource):
    """pydantic-settings' environment source, reading a given mapping instead of os.environ."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(_CONFIG_FILE)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # As EnvSettingsSource does with os.environ (names matched without case).
        return {name.lower(): value for name, value in self._environ.items()}


def _check_env_names(env: Mapping[str, str]) -> None:
    """A ``BILLING_CLIENT_*`` variable that names no setting is a typo: refuse it, named."""
    known = sorted(FILE_KEYS.values())
    for name in sorted(env):
        if not name.upper().startswith(ENV_PREFIX):
            continue
        key = ".".join(part.lower() for part in name[len(ENV_PREFIX) :].split("__"))
        if key not in known:
            names = ", ".join(ENV_PREFIX + k.upper().replace(".", "__") for k in known)
            raise SettingsError(f"{name}: unknown setting (known: {names})")


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def load_settings(
    path: str | Path | None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """The file at ``path`` (None: no file), then ``env`` (default ``os.environ``), then
    ``overrides`` (dotted keys from command-line flags, e.g. ``{"server.port": 9090}``).
    Raises ``SettingsError`` naming the key."""
    env = os.environ if env is None else env
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
    _check_env_names(env)
    values = _deep_merge(raw, _Environment(env)())
    for key, value in (overrides or {}).items():
        section, _, name = key.rpartition(".")
        values = _deep_merge(values, {section: {name: value}} if section else {name: value})
    try:
        parsed = _CONFIG_FILE(**values).model_dump()
    except ValidationError as exc:
        raise _named(exc, file_keys=True) from None
    flat: dict[str, Any] = {}
    for setting, key in FILE_KEYS.items():
        section, _, name = key.rpartition(".")
        node = (parsed.get(section) or {}) if section else parsed
        if node.get(name) is not None:
            flat[setting] = node[name]
    try:
        return Settings(**flat)
    except ValidationError as exc:
        raise _named(exc, file_keys=False) from None


def _named(exc: ValidationError, *, file_keys: bool) -> SettingsError:
    """The first error as ``key: what is wrong`` (``key`` as written in the file)."""
    error = exc.errors(include_url=False, include_input=False)[0]
    loc = [str(part) for part in error["loc"]]
    if not file_keys and loc:
        loc = [*FILE_KEYS.get(loc[0], loc[0]).split("."), *loc[1:]]
    key = ".".join(loc)
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        known = sorted({k.partition(".")[0] for k in FILE_KEYS.values()})
        message = (
            f"unknown setting (known: {', '.join(known)})" if len(loc) == 1 else "unknown setting"
        )
    elif error["type"] == "missing" and key == "crypto.encryption_key":
        message = f"required (a Fernet key; env {ENV_PREFIX}CRYPTO__ENCRYPTION_KEY)"
    return SettingsError(f"{key}: {message}")
