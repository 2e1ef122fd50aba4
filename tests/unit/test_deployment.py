"""The deployment files: ``docker-compose.yml`` (Redis with an append-only file on a volume, two
kimiproxy instances sharing it) and the ``Dockerfile`` it builds. No Docker engine runs here,
so these read the files instead of starting them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from kimiproxy.settings import load_config
from kimiproxy.settings.model import setting_names

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")


def proxies() -> dict[str, dict]:
    return {name: s for name, s in COMPOSE["services"].items() if name.startswith("kimiproxy")}


def test_redis_keeps_an_append_only_file_on_a_volume():
    redis = COMPOSE["services"]["redis"]
    command = redis["command"]
    assert command[0] == "redis-server"
    assert command[command.index("--appendonly") + 1] == "yes"
    volume, target = redis["volumes"][0].split(":")
    assert target == "/data" and volume in COMPOSE["volumes"]
    assert "redis-cli" in redis["healthcheck"]["test"]


def test_two_instances_share_the_redis():
    services = proxies()
    assert len(services) == 2
    ports = set()
    for service in services.values():
        env = service["environment"]
        assert env["KIMIPROXY_STATE"] == "redis://redis:6379/0"
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
        assert service["build"] == "." and service["image"] == "kimiproxy"
        host, container = service["ports"][0].split(":")
        assert container == "8000"
        ports.add(host)
    assert len(ports) == 2
    # The same settings everywhere: one secret key seals and opens every token in Redis.
    first, second = (json.dumps(s["environment"], sort_keys=True) for s in services.values())
    assert first == second


def test_every_variable_is_a_setting_that_loads():
    env = next(iter(proxies().values()))["environment"]
    assert set(env) <= set(setting_names())
    values = {name: str(value) for name, value in env.items()}
    values["KIMIPROXY_SECRET_KEY"] = "a passphrase"  # given by the operator at `up`
    for name in ("KIMIPROXY_API_KEYS_FILE", "KIMIPROXY_TOKENS_FILE"):
        values.pop(name)  # files that exist only in the container
    settings = load_config(environ=values)
    assert settings.state == "redis://redis:6379/0" and settings.workers == 2


def test_keys_and_tokens_come_from_files_mounted_as_secrets():
    for service in proxies().values():
        env = service["environment"]
        mounted = {f"/run/secrets/{name}" for name in service["secrets"]}
        assert {env["KIMIPROXY_API_KEYS_FILE"], env["KIMIPROXY_TOKENS_FILE"]} == mounted
        assert env["KIMIPROXY_SECRET_KEY"].startswith("${KIMIPROXY_SECRET_KEY:?")
    for secret in COMPOSE["secrets"].values():
        assert secret["file"].startswith("./secrets/")
    assert "secrets/" in (ROOT / ".gitignore").read_text().split()


def test_the_dockerfile_fits_the_layout():
    for line in re.findall(r"^COPY (.+)$", DOCKERFILE, re.M):
        *sources, _ = line.split()
        for source in sources:
            assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which is gone"
    assert re.search(r'^CMD \["kimiproxy", "serve"\]$', DOCKERFILE, re.M)
    # The unprivileged user can write the SQLite state.
    assert "KIMIPROXY_DATA_DIR=/data" in DOCKERFILE and "VOLUME /data" in DOCKERFILE
    assert "chown kimiproxy:kimiproxy /data" in DOCKERFILE
    assert "/ping" in DOCKERFILE


def test_the_readme_explains_several_instances():
    section = README.split("## Several instances", 1)[1].split("\n## ", 1)[0]
    assert "docker-compose.yml" in section and "appendonly yes" in section
    assert "KIMIPROXY_STATE" in section and "no Docker engine" in section
