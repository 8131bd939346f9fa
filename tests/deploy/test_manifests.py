"""The image and the manifests (Dockerfile, deploy/compose.yaml, deploy/k8s/, deploy/redis.conf)
checked without a Docker engine or a cluster: `make lint` validates their syntax and schemas
(hadolint, kubernetes-validate); these tests check what those cannot see: that the commands
they run are Parley's, that the variables they set are settings Parley reads, that the
pieces are wired to each other, and that the health check works against a real server."""

from __future__ import annotations

import ast
import fnmatch
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from redis.asyncio import Redis

from parley.cli import build_parser
from parley.core.config import ConfigError, load_settings
from parley.core.crypto import new_key_spec
from tests.conftest import BACKEND, ROOT
from tests.ports import free_port
from tests.realtime.sockets import Connect
from tests.support import Server, create_conversation, register, send

DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
REDIS_SERVER = shutil.which("redis-server")


# ---------------------------------------------------------------- readers


def k8s(name: str) -> dict[str, Any]:
    document = yaml.safe_load((K8S / name).read_text())
    assert isinstance(document, dict)
    return document


def compose() -> dict[str, Any]:
    document = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert isinstance(document, dict)
    return document


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    instructions = []
    for text in logical:
        keyword, _, arguments = text.strip().partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def runtime_stage() -> list[tuple[str, str]]:
    """The instructions of the Dockerfile's last stage (the image that runs)."""
    instructions = dockerfile_instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def exec_form(arguments: str) -> list[str]:
    value = json.loads(arguments)
    assert isinstance(value, list) and all(isinstance(item, str) for item in value), arguments
    return value


def deployment_pod() -> dict[str, Any]:
    pod = k8s("deployment.yaml")["spec"]["template"]["spec"]
    assert isinstance(pod, dict)
    return pod


def parley_container() -> dict[str, Any]:
    (container,) = [c for c in deployment_pod()["containers"] if c["name"] == "parley"]
    assert isinstance(container, dict)
    return container


def settings_names() -> set[str]:
    """The variables Parley reads: documented in the README's configuration table and named
    in parley/core/config.py (a name in only one of them is a typo or undocumented)."""
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = {
        name
        for row in table.splitlines()
        if row.startswith("| `")
        for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])
    }
    source = ast.parse((ROOT / "parley" / "core" / "config.py").read_text())
    named = {
        node.value
        for node in ast.walk(source)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    names = documented & named
    assert {"DATABASE_URL", "REDIS_URL", "JWT_SECRET", "S3_BUCKET"} <= names  # the reader works
    return names


def valid_secrets() -> dict[str, str]:
    return {
        "DATABASE_URL": "postgresql://parley:pw@postgres:5432/parley",
        "JWT_SECRET": secrets.token_urlsafe(48),
        "ENCRYPTION_KEYS": new_key_spec("k1"),
    }


def commands() -> dict[str, list[str]]:
    """Every `parley ...` command line the image and the manifests run, by where it is."""
    found: dict[str, list[str]] = {}
    for keyword, arguments in runtime_stage():
        if keyword == "CMD":
            found["Dockerfile CMD"] = exec_form(arguments)
    for name, service in compose()["services"].items():
        if "command" in service and service.get("image") == "parley:local":
            found[f"compose {name}"] = service["command"]
    pod = deployment_pod()
    for container in [*pod["initContainers"], *pod["containers"]]:
        found[f"deployment {container['name']}"] = container["command"]
    (job,) = k8s("migrate-job.yaml")["spec"]["template"]["spec"]["containers"]
    found["migrate job"] = job["command"]
    return found


# ---------------------------------------------------------------- Dockerfile


def test_the_image_builds_the_web_client_and_runs_slim_and_unprivileged() -> None:
    instructions = dockerfile_instructions()
    stages = [arguments for keyword, arguments in instructions if keyword == "FROM"]
    assert len(stages) == 3, stages
    runtime = runtime_stage()
    args = dict(a.split("=", 1) for k, a in instructions if k == "ARG" and "=" in a)
    assert "slim" in args["PYTHON_IMAGE"]
    assert runtime[0][1].startswith("${PYTHON_IMAGE}")
    (user,) = [arguments for keyword, arguments in runtime if keyword == "USER"]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0  # numeric: runAsNonRoot can check it
    assert deployment_pod()["securityContext"]["runAsUser"] == int(uid)
    assert ("EXPOSE", "8000") in runtime
    # The web client's build lands where WEB_DIST_DIR points, from Vite's outDir.
    environment = " ".join(arguments for keyword, arguments in runtime if keyword == "ENV")
    web_dist = re.search(r"WEB_DIST_DIR=(\S+)", environment)
    assert web_dist is not None
    copies = [arguments for keyword, arguments in runtime if keyword == "COPY"]
    assert f"--from=web /src/web/dist {web_dist.group(1)}" in copies
    assert 'outDir: "dist"' in (ROOT / "web" / "vite.config.ts").read_text()


def test_the_dockerignore_keeps_out_nothing_the_dockerfile_copies() -> None:
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sources = [
        source.rstrip("/")
        for keyword, arguments in dockerfile_instructions()
        if keyword == "COPY" and not arguments.startswith("--from")
        for source in arguments.split()[:-1]
    ]
    assert "parley" in sources and "migrations" in sources and "alembic.ini" in sources
    for source in sources:
        assert (ROOT / source).exists(), source
        for pattern in ignored:
            assert not fnmatch.fnmatch(source, pattern.rstrip("/")), (source, pattern)
    assert {".venv", "**/node_modules", "web/dist", ".git"} <= set(ignored)


def test_every_command_the_image_and_manifests_run_is_a_parley_command() -> None:
    found = commands()
    assert len(found) >= 6, found
    parser = build_parser()
    for where, command in found.items():
        assert command[0] == "parley", where
        parser.parse_args(command[1:])  # exits (SystemExit) on an unknown option
    serving = {where: c for where, c in found.items() if c[1] == "serve"}
    # Where a separate step migrates, the instances must not also race to.
    assert all("--no-migrate" in c for where, c in serving.items() if where != "Dockerfile CMD")
    assert found["compose migrate"][1:] == ["migrate"]
    assert found["deployment migrate"][1:] == ["migrate"]


def healthcheck(port: int) -> subprocess.CompletedProcess[bytes]:
    """The Dockerfile's HEALTHCHECK command, run here against `port`."""
    (arguments,) = [a for keyword, a in runtime_stage() if keyword == "HEALTHCHECK"]
    command = exec_form(arguments.split("CMD", 1)[1].strip())
    assert command[0] == "python"  # the venv's python is first on the image's PATH
    command = [sys.executable, *(part.replace(":8000/", f":{port}/") for part in command[1:])]
    assert f"127.0.0.1:{port}/health" in " ".join(command)
    return subprocess.run(command, capture_output=True, timeout=30, check=False)


def test_the_healthcheck_passes_against_a_healthy_server(server: Server) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    result = healthcheck(port)
    assert result.returncode == 0, result.stderr.decode()


def test_the_healthcheck_fails_when_nothing_answers() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))  # bound, not listening: no other process can answer there
        assert healthcheck(int(held.getsockname()[1])).returncode != 0


# ---------------------------------------------------------------- settings in the manifests


def test_the_manifests_set_only_settings_parley_reads() -> None:
    names = settings_names()
    configured = {
        "configmap": set(k8s("configmap.yaml")["data"]),
        "secret": set(k8s("secret.example.yaml")["stringData"]),
        "compose": set(compose()["x-parley"]["environment"]),
        ".env.example": {
            line.split("=", 1)[0].lstrip("# ").strip()
            for line in (DEPLOY / ".env.example").read_text().splitlines()
            if re.match(r"^#? ?[A-Z][A-Z0-9_]+=", line)
        }
        - {"POSTGRES_PASSWORD", "PARLEY_REPLICAS", "PARLEY_HTTP_PORT"},  # compose's own
    }
    for where, variables in configured.items():
        assert variables, where
        assert variables <= names, (where, variables - names)
    dockerfile_env = " ".join(a for keyword, a in runtime_stage() if keyword == "ENV")
    assert {"PARLEY_DATA_DIR", "WEB_DIST_DIR"} <= set(re.findall(r"([A-Z_]+)=", dockerfile_env))


def test_the_configmap_holds_valid_values_and_no_secret() -> None:
    config = k8s("configmap.yaml")["data"]
    assert not {"DATABASE_URL", "JWT_SECRET", "ENCRYPTION_KEYS", "REDIS_PASSWORD"} & set(config)
    settings = load_settings({**config, **valid_secrets()})
    assert settings.redis_url == config["REDIS_URL"]
    assert settings.redis_cache_url == config["REDIS_CACHE_URL"]
    assert settings.metrics_port == int(config["METRICS_PORT"])
    assert settings.trusted_proxies == (config["TRUSTED_PROXIES"],)
    # The pod's writable places: /tmp and the data directory, both emptyDir mounts.
    mounts = {m["mountPath"] for m in parley_container()["volumeMounts"]}
    assert {"/tmp", config["PARLEY_DATA_DIR"]} <= mounts
    assert parley_container()["securityContext"]["readOnlyRootFilesystem"] is True
    ports = {p["name"]: p["containerPort"] for p in parley_container()["ports"]}
    assert ports["metrics"] == settings.metrics_port


@pytest.mark.parametrize("placeholder", ["JWT_SECRET", "ENCRYPTION_KEYS"])
def test_the_example_secrets_are_refused_so_nobody_runs_on_them(placeholder: str) -> None:
    examples = {
        "k8s": k8s("secret.example.yaml")["stringData"],
        "compose": dict(
            line.split("=", 1)
            for line in (DEPLOY / ".env.example").read_text().splitlines()
            if re.match(r"^[A-Z][A-Z0-9_]+=", line)
        ),
    }
    for where, example in examples.items():
        environment = {**valid_secrets(), placeholder: example[placeholder]}
        with pytest.raises(ConfigError, match=placeholder):
            load_settings(environment)
        assert where


# ---------------------------------------------------------------- Kubernetes


def test_the_autoscaler_is_the_specifications() -> None:
    hpa = k8s("hpa.yaml")
    assert hpa["apiVersion"] == "autoscaling/v2"
    spec = hpa["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (3, 20)
    (metric,) = spec["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}
    target = spec["scaleTargetRef"]
    deployment = k8s("deployment.yaml")
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    # Utilization is measured against the CPU request; the HPA owns the replica count.
    assert parley_container()["resources"]["requests"]["cpu"]
    assert "replicas" not in deployment["spec"]


def test_the_probes_ask_health_on_the_served_port() -> None:
    container = parley_container()
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    served = container["command"][container["command"].index("--port") + 1]
    assert ports["http"] == int(served)
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        check = container[probe]["httpGet"]
        assert (check["path"], check["port"]) == ("/health", "http"), probe
    # Liveness gives up later than readiness: a short outage only takes pods out of service.
    liveness, readiness = container["livenessProbe"], container["readinessProbe"]
    assert (
        liveness["periodSeconds"] * liveness["failureThreshold"]
        > readiness["periodSeconds"] * readiness["failureThreshold"]
    )


def test_pods_drain_before_they_stop() -> None:
    pod = deployment_pod()
    pre_stop = parley_container()["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    assert pod["terminationGracePeriodSeconds"] >= int(pre_stop[1]) + 30
    security = pod["securityContext"]
    assert security["runAsNonRoot"] is True
    budget = k8s("pdb.yaml")["spec"]
    assert (
        budget["selector"]["matchLabels"]
        == k8s("deployment.yaml")["spec"]["selector"]["matchLabels"]
    )
    assert budget["maxUnavailable"] == 1


def test_the_ingress_keeps_sockets_open_and_polling_sessions_on_their_pod() -> None:
    ingress = k8s("ingress.yaml")
    annotations = ingress["metadata"]["annotations"]
    prefix = "nginx.ingress.kubernetes.io/"
    assert int(annotations[prefix + "proxy-read-timeout"]) >= 3600
    assert int(annotations[prefix + "proxy-send-timeout"]) >= 3600
    # The web client falls back to long-polling, whose requests must reach one pod.
    assert '"polling"' in (ROOT / "web" / "src" / "socket.ts").read_text()
    assert annotations[prefix + "affinity"] == "cookie"
    (rule,) = ingress["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    backend = path["backend"]["service"]
    service = k8s("service.yaml")
    assert backend["name"] == service["metadata"]["name"]
    assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}
    assert service["spec"]["selector"] == k8s("deployment.yaml")["spec"]["selector"]["matchLabels"]


def test_config_comes_from_the_configmap_and_the_secret() -> None:
    sources = {
        (kind, ref["name"])
        for entry in parley_container()["envFrom"]
        for kind, ref in entry.items()
    }
    assert sources == {
        ("configMapRef", k8s("configmap.yaml")["metadata"]["name"]),
        ("secretRef", k8s("secret.example.yaml")["metadata"]["name"]),
    }


def test_kustomize_applies_every_manifest_but_the_examples_and_the_job() -> None:
    listed = set(k8s("kustomization.yaml")["resources"])
    present = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present - {"secret.example.yaml", "migrate-job.yaml"}


# ---------------------------------------------------------------- Compose


def test_compose_migrates_once_then_starts_the_instances_behind_nginx() -> None:
    services = compose()["services"]
    assert {"postgres", "redis", "redis-cache", "migrate", "parley", "nginx"} <= set(services)
    parley = services["parley"]
    assert parley["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert parley["depends_on"]["redis"]["condition"] == "service_healthy"
    assert parley["depends_on"]["redis-cache"]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no"
    assert "replicas" in parley["deploy"]
    assert "ports" not in parley  # reached through nginx only
    # nginx's upstream names the service and the port the instances serve on.
    upstream = (DEPLOY / "nginx" / "compose.conf").read_text()
    port = parley["command"][parley["command"].index("--port") + 1]
    assert f"server parley:{port} " in upstream
    nginx = services["nginx"]
    assert "./nginx/compose.conf:/etc/nginx/conf.d/default.conf:ro" in nginx["volumes"]
    assert nginx["depends_on"]["parley"]["condition"] == "service_healthy"
    # The instances believe X-Forwarded-For from nginx, and from nothing else.
    address = nginx["networks"]["default"]["ipv4_address"]
    assert parley["environment"]["TRUSTED_PROXIES"] == address
    # The state Redis (REDIS_URL) never evicts; the cache Redis (REDIS_CACHE_URL) has the
    # specification's redis.conf.
    redis, cache = services["redis"], services["redis-cache"]
    assert "./redis-state.conf:/usr/local/etc/redis/redis.conf:ro" in redis["volumes"]
    assert "./redis.conf:/usr/local/etc/redis/redis.conf:ro" in cache["volumes"]
    for service in (redis, cache):
        assert service["command"][-1] == "/usr/local/etc/redis/redis.conf"
    assert parley["environment"]["REDIS_URL"].startswith("redis://redis:")
    assert parley["environment"]["REDIS_CACHE_URL"].startswith("redis://redis-cache:")
    for volume in [*redis["volumes"], *cache["volumes"], *nginx["volumes"]]:
        source = volume.split(":")[0]
        if source.startswith("./"):
            assert (DEPLOY / source).is_file(), source


def test_every_variable_compose_requires_is_in_the_env_example() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", text))
    assert {"POSTGRES_PASSWORD", "JWT_SECRET", "ENCRYPTION_KEYS"} <= required
    example = (DEPLOY / ".env.example").read_text()
    for name in required:
        assert re.search(rf"^{name}=", example, re.MULTILINE), name
    assert "deploy/.env" in (ROOT / ".gitignore").read_text().splitlines()


def _server_block(conf: str) -> str:
    return conf[conf.index("map $http_upgrade") :]


def test_the_compose_nginx_config_is_the_tested_one_with_compose_addresses() -> None:
    tested = (DEPLOY / "nginx" / "parley.conf").read_text()
    ours = (DEPLOY / "nginx" / "compose.conf").read_text()
    assert _server_block(ours) == _server_block(tested).replace(
        "listen 127.0.0.1:8080;", "listen 80;"
    )


@pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx is not installed (make test-deps)")
def test_nginx_accepts_the_compose_config() -> None:
    prefix = Path(tempfile.mkdtemp(prefix="parley-nginx-compose-"))
    try:
        conf = (DEPLOY / "nginx" / "compose.conf").read_text()
        # `parley` resolves inside compose's network only, and port 80 needs root.
        conf = conf.replace("server parley:", "server 127.0.0.1:").replace(
            "listen 80;", f"listen 127.0.0.1:{free_port()};"
        )
        (prefix / "compose.conf").write_text(conf)
        (prefix / "nginx.conf").write_text(
            "pid nginx.pid;\nerror_log stderr;\nevents {}\n"
            "http {\n  client_body_temp_path tmp; proxy_temp_path tmp;\n"
            "  include compose.conf;\n}\n"
        )
        (prefix / "tmp").mkdir()
        result = subprocess.run(
            [NGINX, "-t", "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, result.stderr.decode()
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


# ---------------------------------------------------------------- redis.conf


@pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")
@pytest.mark.parametrize(
    ("conf", "expected"),
    [
        # The cache Redis: the specification's settings.
        (
            "redis.conf",
            {
                "maxmemory": str(2 * 1024**3),
                "maxmemory-policy": "allkeys-lru",
                "appendonly": "no",
            },
        ),
        # The state Redis: never evicts, loses at most a second on a restart.
        (
            "redis-state.conf",
            {
                "maxmemory": str(1024**3),
                "maxmemory-policy": "noeviction",
                "appendonly": "yes",
                "appendfsync": "everysec",
            },
        ),
    ],
)
def test_redis_runs_with_the_repositorys_settings(conf: str, expected: dict[str, str]) -> None:
    """deploy/redis.conf and redis-state.conf in a real redis-server (on a free port and a
    scratch directory)."""
    assert REDIS_SERVER is not None
    port = free_port()
    directory = tempfile.mkdtemp(prefix="parley-redis-conf-")
    process = subprocess.Popen(
        [
            REDIS_SERVER,
            str(DEPLOY / conf),
            *("--port", str(port), "--bind", "127.0.0.1", "--dir", directory),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 10

        def config(name: str) -> str:
            result = subprocess.run(
                ["redis-cli", "-p", str(port), "config", "get", name],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
            lines = result.stdout.splitlines()
            return lines[1] if len(lines) == 2 else ""

        # Its own directory tells ours from another worker's redis-server that took the port
        # first (ours then exits).
        while config("dir") != os.path.realpath(directory):
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
        for name, value in expected.items():
            assert config(name) == value, name
        assert config("tcp-keepalive") == "300"
        assert config("timeout") == "0"
        assert config("save") == "900 1 300 10 60 10000"
    finally:
        process.terminate()
        process.communicate(timeout=10)  # waits, and closes the pipe
        shutil.rmtree(directory, ignore_errors=True)


# ---------------------------------------------------------------- keys and eviction

# The keys that carry no TTL (docs/deployment.md, Redis configuration): volatile-lru would
# never evict them, allkeys-lru would; every other key expires by itself. The run's prefix
# also holds the keys of modules' own servers, under a name of their own (with_redis_prefix).
WITHOUT_TTL = re.compile(
    r"(?:[a-z-]+:)?(?:presence:[0-9a-f-]{36}|presence:online|instances|notify:due)"
)


@pytest.mark.skipif(BACKEND != "postgres", reason="the keys are Redis's (PostgreSQL backend)")
async def test_only_the_documented_keys_live_without_a_ttl(
    backend_env: dict[str, str], client: httpx.AsyncClient, connect: Connect
) -> None:
    """What the eviction note in redis.conf and docs/deployment.md says about TTLs."""
    alice, bob = await register(client, "ttl_alice"), await register(client, "ttl_bob")
    conversation = await create_conversation(client, alice, [bob], "DIRECT")
    await send(client, alice, conversation["id"], "hi", clientMessageId=secrets.token_hex(8))
    await connect(bob)  # presence, socket counts
    leaving = await register(client, "ttl_leaving")
    response = await client.post("/auth/logout", headers=leaving.headers)
    assert response.status_code == 204, response.text

    prefix = backend_env["REDIS_KEY_PREFIX"]
    redis = Redis.from_url(backend_env["REDIS_URL"], decode_responses=True)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*", count=1000)]
        ttls = dict(zip(keys, [await redis.ttl(key) for key in keys], strict=True))
    finally:
        await redis.aclose()
    names = {key.removeprefix(prefix): ttl for key, ttl in ttls.items() if ttl != -2}
    without_ttl = {name for name, ttl in names.items() if ttl == -1}
    assert without_ttl, "the socket's presence hash was expected"
    assert all(WITHOUT_TTL.fullmatch(name) for name in without_ttl), without_ttl
    # Those that must not be evicted but carry a TTL, so volatile-lru would take them too.
    assert names[f"presence:{bob.id}"] == -1
    assert any(n.startswith("cache:revoked-token:") and t > 0 for n, t in names.items())
    assert any(n.startswith("cache:sent:") and t > 0 for n, t in names.items())
    assert any(n.startswith("limits") and t > 0 for n, t in names.items()), names
