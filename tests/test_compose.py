"""docker-compose.yml without a Docker engine: the services are there, their commands are ones
our CLIs accept, they are wired to each other (PostgreSQL, test mode, replicas, HAProxy, the
billing client), every file they mount exists, and HAProxy accepts its configuration."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from amci.cli import build_parser as amci_parser
from amci.settings import load_settings as amci_settings
from billing_client.cli import build_parser as billing_parser
from billing_client.crypto import Vault
from billing_client.settings import load_settings as billing_settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
REPLICAS = ("amci-a", "amci-b")


def _haproxy() -> str:
    found = shutil.which("haproxy") or "/usr/sbin/haproxy"
    assert os.path.exists(found), "HAProxy is missing: `make test` installs it"
    return found


def test_the_services() -> None:
    assert set(SERVICES) == {"postgres", "stripe-testmode", *REPLICAS, "haproxy",
                             "billing-client", "prometheus"}
    for name, service in SERVICES.items():
        for dep in service.get("depends_on", []):
            assert dep in SERVICES, (name, dep)


def test_replicas_share_one_store_and_one_test_mode() -> None:
    a, b = (SERVICES[r] for r in REPLICAS)
    assert a == b  # the same image, command and environment
    args = amci_parser().parse_args(a["command"][1:])
    assert (args.command, args.host, args.port) == ("serve", "0.0.0.0", 8080)  # noqa: S104
    store = urlsplit(a["environment"]["AMCI_STORE__URL"])
    pg = SERVICES["postgres"]["environment"]
    assert (store.scheme, store.hostname, store.port) == ("postgresql", "postgres", 5432)
    assert (store.username, store.password, store.path) == (
        pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"], f"/{pg['POSTGRES_DB']}")
    testmode = SERVICES["stripe-testmode"]
    tm_args = amci_parser().parse_args(testmode["command"][1:])
    assert tm_args.command == "stripe-testmode"
    assert a["environment"]["AMCI_UPSTREAM__TEST_API_BASE"] == (
        f"http://stripe-testmode:{tm_args.port}")
    assert testmode["environment"]["HEALTHCHECK_URL"].endswith(f":{tm_args.port}/_testmode/clock")
    assert a["depends_on"]["postgres"] == {"condition": "service_healthy"}
    # Every variable is a setting AMCI knows (an unknown AMCI_* is refused at start), and the
    # replicas share the sealing key (a secret sealed by one opens on the other).
    settings = amci_settings(ROOT / "config" / "amci.yaml", env=a["environment"])
    assert settings.store.resolved_url == a["environment"]["AMCI_STORE__URL"]
    assert settings.notifications.encryption_key is not None


def test_the_billing_client_runs_on_its_own_database_through_haproxy() -> None:
    bc = SERVICES["billing-client"]
    assert bc["command"][0] == "billing-client"
    args = billing_parser().parse_args(bc["command"][1:])
    assert args.amci == "http://haproxy:8080"
    assert (ROOT / args.config).is_file()
    store = urlsplit(bc["environment"]["BILLING_CLIENT_STORE__URL"])
    assert (store.scheme, store.hostname) == ("postgresql", "postgres")
    amci_db = urlsplit(SERVICES["amci-a"]["environment"]["AMCI_STORE__URL"]).path
    assert store.path != amci_db  # both have a "cards" table: never one database
    # The database the billing client names is the one the init script creates.
    init = SERVICES["postgres"]["volumes"][1].split(":")[0]
    created = re.findall(r"CREATE DATABASE (\w+);", (ROOT / init).read_text())
    assert created == [store.path.lstrip("/")]
    env = {**bc["environment"], "BILLING_CLIENT_CRYPTO__ENCRYPTION_KEY": Vault.generate_key()}
    assert billing_settings(ROOT / args.config, env).store == (
        bc["environment"]["BILLING_CLIENT_STORE__URL"])


def test_haproxy_balances_the_replicas_with_the_committed_config() -> None:
    lb = SERVICES["haproxy"]
    source, target, mode = lb["volumes"][0].split(":")
    assert (source, target, mode) == (
        "./config/haproxy.cfg", "/usr/local/etc/haproxy/haproxy.cfg", "ro")
    cfg = (ROOT / "config" / "haproxy.cfg").read_text()
    servers = re.findall(r'^\s*server \w+ "\$\{AMCI_REPLICA_\w+-([\w-]+):(\d+)\}"', cfg, re.M)
    assert sorted(servers) == [(r, "8080") for r in REPLICAS]
    assert re.search(r'^\s*bind "\$\{AMCI_LB_BIND-:8080\}"', cfg, re.M)
    assert lb["ports"] == ["127.0.0.1:8080:8080"]
    assert set(lb["depends_on"]) == set(REPLICAS)
    checked = subprocess.run([_haproxy(), "-c", "-f", str(ROOT / "config" / "haproxy.cfg")],
                             capture_output=True, text=True, timeout=30, check=False)
    assert checked.returncode == 0, checked.stderr
    assert "Configuration file is valid" in checked.stdout + checked.stderr


def test_mounted_files_exist_and_prometheus_scrapes_each_replica() -> None:
    for service in SERVICES.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).is_file(), source
    prom = yaml.safe_load((ROOT / "config" / "prometheus.yml").read_text())
    targets = {t for job in prom["scrape_configs"] for c in job["static_configs"]
               for t in c["targets"]}
    assert targets == {"amci-a:8080", "amci-b:8080", "billing-client:8090"}
