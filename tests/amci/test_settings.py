"""amci.settings: YAML + AMCI_* environment overrides; every error names the key."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from amci.settings import Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_config_loads_with_a_demo_subscription() -> None:
    settings = load_settings(ROOT / "config" / "amci.yaml", env={})
    assert settings.upstream.test_api_base is None  # embedded test mode by default
    (demo,) = settings.subscriptions
    assert demo.active and demo.stripe_integration_activated and demo.allow_any_test_key
    assert demo.key_fingerprints == ()
    assert demo.minimum_overrides["CHF"] == "0.46"
    assert settings.rate_limit.test_per_second == 25.0


def test_env_overrides_nested_keys(tmp_path: Path) -> None:
    cfg = tmp_path / "amci.yaml"
    cfg.write_text("server:\n  port: 8080\n")
    settings = load_settings(
        cfg,
        env={
            "AMCI_SERVER__PORT": "9000",
            "AMCI_UPSTREAM__TEST_API_BASE": "http://127.0.0.1:12111",
            "AMCI_RATE_LIMIT__ENABLED": "false",
            "HOME": "/root",
        },
    )
    assert settings.server.port == 9000
    assert settings.upstream.test_api_base == "http://127.0.0.1:12111"
    assert settings.rate_limit.enabled is False


@pytest.mark.parametrize(
    ("yaml_text", "env", "names"),
    [
        ("server:\n  port: abc\n", {}, "server.port"),
        ("server:\n  prot: 1\n", {}, "server.prot"),
        ("", {"AMCI_SERVER__PORT": "x"}, "server.port"),
        ("", {"AMCI_NOPE": "1"}, "nope"),
        ("rate_limit:\n  enabled: 3\n", {}, "rate_limit.enabled"),
        ("rate_limit:\n  test_per_second: 0\n", {}, "rate_limit.test_per_second"),
        ("subscriptions:\n  - name: x\n", {}, "subscriptions[0].id"),
        ("subscriptions:\n  - id: a\n    key_fingerprints: [sk_test_123]\n", {},
         "subscriptions[0].key_fingerprints[0]"),
        ("subscriptions:\n  - id: a\n    minimum_overrides: {CHF: 0.46}\n", {},
         "subscriptions[0].minimum_overrides.CHF"),
        ("subscriptions:\n  - id: a\n    minimum_overrides: {JPY: '0.5'}\n", {},
         "subscriptions[0].minimum_overrides.JPY"),
        ("subscriptions:\n  - id: a\n    settlement_currency: XXX\n", {},
         "subscriptions[0].settlement_currency"),
        ("subscriptions:\n  - id: a\n  - id: a\n", {}, "subscriptions[1].id"),
        ("- 1\n", {}, "top level"),
    ],
)
def test_errors_name_the_key(
    tmp_path: Path, yaml_text: str, env: dict[str, str], names: str
) -> None:
    cfg = tmp_path / "amci.yaml"
    cfg.write_text(yaml_text)
    with pytest.raises(SettingsError) as err:
        load_settings(cfg, env=env)
    assert names in str(err.value)


def test_fingerprints_not_keys() -> None:
    fp = hashlib.sha256(b"sk_test_abc").hexdigest()
    settings = load_settings(None, env={})
    assert settings == Settings()
    from amci.settings import from_mapping

    ok = from_mapping({"subscriptions": [{"id": "a", "key_fingerprints": [fp]}]})
    assert ok.subscriptions[0].key_fingerprints == (fp,)


@pytest.mark.parametrize(
    ("yaml_text", "env", "message"),
    [
        ("", {"AMCI_UPSTREAM__TEST_API_BAS": "http://x"},
         "unknown setting upstream.test_api_bas (from AMCI_UPSTREAM__TEST_API_BAS)"),
        ("", {"AMCI_LOG_LEVL": "DEBUG"}, "unknown setting log_levl (from AMCI_LOG_LEVL)"),
        ("upstream:\n  test_api_bas: x\n", {}, "unknown setting upstream.test_api_bas"),
        ("subscriptions:\n  - id: a\n    actve: true\n", {},
         "unknown setting subscriptions[0].actve"),
        ("log_level: LOUD\n", {}, "log_level: expected one of DEBUG, INFO, WARNING, ERROR, "
         "CRITICAL, got 'LOUD'"),
        ("server:\n  request_header_timeout_seconds: 0\n", {},
         "server.request_header_timeout_seconds"),
        ("server:\n  port: '8080'\n", {}, "server.port"),  # a string is not a port
        ("server:\n  port: 70000\n", {}, "server.port"),
        ("", {"AMCI_SERVER__PORT": "70000"}, "server.port: Input should be less than or equal "
         "to 65535 (from AMCI_SERVER__PORT)"),
        ("", {"AMCI__PORT": "1"}, "AMCI__PORT"),
    ],
)
def test_typos_and_bad_values_are_errors_naming_the_key(
    tmp_path: Path, yaml_text: str, env: dict[str, str], message: str
) -> None:
    cfg = tmp_path / "amci.yaml"
    cfg.write_text(yaml_text)
    with pytest.raises(SettingsError) as err:
        load_settings(cfg, env=env)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_new_settings_and_their_defaults(tmp_path: Path) -> None:
    settings = load_settings(None, env={})
    assert settings.server.request_header_timeout_seconds == 10.0
    assert settings.testmode.public_url is None
    cfg = tmp_path / "amci.yaml"
    cfg.write_text("server:\n  request_header_timeout_seconds: 2.5\nlog_level: debug\n")
    settings = load_settings(cfg, env={"AMCI_TESTMODE__PUBLIC_URL": "http://amci.example:8080"},
                             overrides={"server": {"port": 0}})
    assert settings.server.request_header_timeout_seconds == 2.5
    assert settings.server.port == 0
    assert settings.testmode.public_url == "http://amci.example:8080"
    assert settings.log_level == "DEBUG"


def test_testmode_settings_refuse_unknown_keys() -> None:
    from pydantic import ValidationError

    from amci.testmode.settings import TestmodeSettings

    assert TestmodeSettings().public_url is None
    assert TestmodeSettings().request_header_timeout_seconds == 10.0
    with pytest.raises(ValidationError):
        TestmodeSettings.model_validate({"db_pth": "x"})
    with pytest.raises(ValidationError):
        TestmodeSettings(request_header_timeout_seconds=0)


def test_store_url_from_file_env_or_the_db_path_shorthand(tmp_path: Path) -> None:
    shipped = load_settings(ROOT / "config" / "amci.yaml", env={})
    assert shipped.store.resolved_url == "sqlite:///var/amci.sqlite3"
    assert Settings().store.resolved_url == "sqlite:///var/amci.sqlite3"
    moved = load_settings(None, env={"AMCI_STORE__DB_PATH": "/srv/amci.sqlite3"})
    assert moved.store.resolved_url == "sqlite:////srv/amci.sqlite3"
    shared = load_settings(ROOT / "config" / "amci.yaml",
                           env={"AMCI_STORE__URL": "postgresql://amci@db:5432/amci"})
    assert shared.store.resolved_url == "postgresql://amci@db:5432/amci"
    cfg = tmp_path / "amci.yaml"
    cfg.write_text("store:\n  url: mysql://db/amci\n")
    with pytest.raises(SettingsError, match=r"^store\.url: unsupported store scheme 'mysql'"):
        load_settings(cfg, env={})


def test_serve_flags_name_the_store() -> None:
    from amci.cli import build_parser

    args = build_parser().parse_args(["serve", "--store", "postgresql://amci@db/amci"])
    assert (args.store, args.db) == ("postgresql://amci@db/amci", None)
    assert build_parser().parse_args(["serve", "--db", "x.sqlite3"]).db == "x.sqlite3"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--db", "x.sqlite3", "--store", "sqlite:///y"])


def test_the_shared_limits_headroom(tmp_path: Path) -> None:
    assert load_settings(ROOT / "config" / "amci.yaml", env={}).rate_limit.headroom == 0.9
    assert load_settings(None, env={"AMCI_RATE_LIMIT__HEADROOM": "0.95"}).rate_limit.headroom == (
        0.95)
    for bad in ("0", "1.5", "-0.1"):
        with pytest.raises(SettingsError, match=r"^rate_limit\.headroom: "):
            load_settings(None, env={"AMCI_RATE_LIMIT__HEADROOM": bad})
