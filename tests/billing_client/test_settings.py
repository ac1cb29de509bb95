"""billing_client.settings: YAML + environment, every error names the key."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from billing_client.crypto import Vault
from billing_client.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]
FERNET = Vault.generate_key()


def test_shipped_config_loads_with_a_marked_demo() -> None:
    text = (ROOT / "config" / "billing_client.yaml").read_text()
    assert "DEV-ONLY" in text and "DEMO ONLY" in text
    s = load_settings(ROOT / "config" / "billing_client.yaml", {})
    assert (s.host, s.port, s.amci_url) == ("127.0.0.1", 8090, "http://127.0.0.1:8080")
    assert s.db_path == "var/billing_client.sqlite3"
    assert s.demo is not None
    assert str(s.demo.payment_system["password"]).startswith("sk_test_")
    assert s.demo.currencies == {"USD": "0.5"}
    assert s.reconcile_interval_seconds == 30.0


def test_env_overrides(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("server: {port: 1}\ncrypto: {encryption_key: x}\n")
    s = load_settings(
        cfg,
        {
            "BILLING_CLIENT_SERVER__PORT": "9999",
            "BILLING_CLIENT_AMCI__URL": "http://amci:8080",
            "BILLING_CLIENT_CRYPTO__ENCRYPTION_KEY": FERNET,
            "BILLING_CLIENT_STORAGE__DB_PATH": ":memory:",
            "BILLING_CLIENT_RECONCILE__INTERVAL_SECONDS": "0",
            "OTHER": "ignored",
        },
    )
    assert (s.port, s.amci_url, s.db_path) == (9999, "http://amci:8080", ":memory:")
    assert s.reconcile_interval_seconds == 0.0  # 0: the background reconciler is off
    assert s.encryption_key.reveal() == FERNET
    assert FERNET not in repr(s)


@pytest.mark.parametrize(
    ("yaml_text", "key"),
    [
        ("server: {port: 1}\n", "crypto.encryption_key"),
        ("crypto: {encryption_key: not-fernet}\n", "crypto.encryption_key"),
        (f"crypto: {{encryption_key: '{FERNET}'}}\nserver: {{port: abc}}\n", "server.port"),
        (f"crypto: {{encryption_key: '{FERNET}'}}\nserver: {{port: 70000}}\n", "server.port"),
        (f"crypto: {{encryption_key: '{FERNET}'}}\namci: {{url: ftp://x}}\n", "amci.url"),
        (
            f"crypto: {{encryption_key: '{FERNET}'}}\namci: {{timeout_seconds: 0}}\n",
            "amci.timeout_seconds",
        ),
        (
            f"crypto: {{encryption_key: '{FERNET}'}}\nreconcile: {{interval_seconds: -1}}\n",
            "reconcile.interval_seconds",
        ),
        (
            f"crypto: {{encryption_key: '{FERNET}'}}\nreconcile: {{interval_seconds: soon}}\n",
            "reconcile.interval_seconds",
        ),
        (
            f"crypto: {{encryption_key: '{FERNET}'}}\nreconcile: {{interval_seconds: .nan}}\n",
            "reconcile.interval_seconds",
        ),
        (f"crypto: {{encryption_key: '{FERNET}'}}\nfoo: 1\n", "foo"),
        (
            f"crypto: {{encryption_key: '{FERNET}'}}\ndemo: {{payment_system: 3}}\n",
            "demo.payment_system",
        ),
    ],
)
def test_errors_name_the_key(tmp_path: Path, yaml_text: str, key: str) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml_text)
    with pytest.raises(SettingsError) as info:
        load_settings(cfg, {})
    assert str(info.value).startswith(key)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read"):
        load_settings(tmp_path / "nope.yaml", {})


def test_reconcile_interval_defaults_and_reads_from_the_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"crypto: {{encryption_key: '{FERNET}'}}\n")
    assert load_settings(cfg, {}).reconcile_interval_seconds == 30.0
    cfg.write_text(
        f"crypto: {{encryption_key: '{FERNET}'}}\nreconcile: {{interval_seconds: 2.5}}\n"
    )
    assert load_settings(cfg, {}).reconcile_interval_seconds == 2.5


@pytest.mark.parametrize(
    ("yaml_text", "env", "key"),
    [
        # issue 7: a typo in an environment override was silently ignored
        ("", {"BILLING_CLIENT_SERVR__PORT": "9"}, "BILLING_CLIENT_SERVR__PORT"),
        ("", {"BILLING_CLIENT_SERVER__PROT": "9"}, "BILLING_CLIENT_SERVER__PROT"),
        ("", {"BILLING_CLIENT_LOGLEVEL": "DEBUG"}, "BILLING_CLIENT_LOGLEVEL"),
        ("", {"BILLING_CLIENT_SERVER__PORT": "abc"}, "server.port"),
        ("server: {prot: 1}\n", {}, "server.prot"),
        ("amci: {url: http://a, timeout: 3}\n", {}, "amci.timeout"),
        ("log_level: LOUD\n", {}, "log_level"),
        (
            "server: {request_header_timeout_seconds: 0}\n",
            {},
            "server.request_header_timeout_seconds",
        ),
        ("server: {port: true}\n", {}, "server.port"),
        ("demo: {payment_system: {}, extra: 1}\n", {}, "demo.extra"),
    ],
)
def test_typos_and_bad_values_are_named(
    tmp_path: Path, yaml_text: str, env: dict[str, str], key: str
) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"crypto: {{encryption_key: '{FERNET}'}}\n" + yaml_text)
    with pytest.raises(SettingsError) as info:
        load_settings(cfg, env)
    assert str(info.value).startswith(f"{key}: "), str(info.value)


def test_request_header_timeout_and_flags(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"crypto: {{encryption_key: '{FERNET}'}}\n")
    assert load_settings(cfg, {}).request_header_timeout_seconds == 10.0
    env = {"BILLING_CLIENT_SERVER__REQUEST_HEADER_TIMEOUT_SECONDS": "2.5"}
    assert load_settings(cfg, env).request_header_timeout_seconds == 2.5
    # Flags win over the environment, which wins over the file; flags are checked too.
    env = {"BILLING_CLIENT_SERVER__PORT": "9001", "BILLING_CLIENT_SERVER__HOST": "127.0.0.2"}
    s = load_settings(cfg, env, {"server.port": 9002})
    assert (s.host, s.port) == ("127.0.0.2", 9002)
    with pytest.raises(SettingsError, match=r"^server\.port: "):
        load_settings(cfg, env, {"server.port": 70000})


def _serve(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "billing_client", "serve", *args],
        env={"PATH": os.environ.get("PATH", ""), **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_cli_refuses_a_missing_config_in_one_line(tmp_path: Path) -> None:
    missing = _serve(["--config", str(tmp_path / "nope.yaml")], {})
    assert missing.returncode == 2
    assert missing.stderr.splitlines() == [
        f"billing-client: configuration error: {tmp_path / 'nope.yaml'}: cannot read "
        "(No such file or directory)"
    ]
    # An invalid setting takes the same path (SettingsError → one line, exit 2): the tests above
    # check its message in-process.


def test_the_store_url_from_the_file_the_environment_and_the_flags(tmp_path: Path) -> None:
    from billing_client.cli import _load, build_parser

    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"crypto: {{encryption_key: '{FERNET}'}}\n"
                   "store: {url: 'postgresql://bc@db:5432/billing'}\n")
    assert load_settings(cfg, {}).store == "postgresql://bc@db:5432/billing"
    env = {"BILLING_CLIENT_STORE__URL": "sqlite:///var/other.sqlite3"}
    assert load_settings(cfg, env).store == "sqlite:///var/other.sqlite3"
    # Without store.url: the SQLite file storage.db_path (the shipped default).
    assert load_settings(ROOT / "config" / "billing_client.yaml", {}).store == (
        "var/billing_client.sqlite3")
    with pytest.raises(SettingsError, match=r"^store\.url: unsupported store scheme"):
        load_settings(cfg, {"BILLING_CLIENT_STORE__URL": "mysql://db/billing"})
    # --store and --db (the SQLite shorthand) win over the file's store.url.
    for argv, expected in (
        (["--store", "postgres://x@h/db"], "postgres://x@h/db"),
        (["--db", "var/bc.sqlite3"], "sqlite:///var/bc.sqlite3"),
        ([], "postgresql://bc@db:5432/billing"),
    ):
        args = build_parser().parse_args(["serve", "--config", str(cfg), *argv])
        assert _load(args).store == expected
