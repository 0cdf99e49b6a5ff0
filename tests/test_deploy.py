"""The deployment files: the Dockerfile's install-and-ingest steps reproduced without Docker
(a fresh venv, a non-editable install of exactly the files the image copies, then the image's
command against the Bot API stand-in), and compose, Kubernetes and systemd files that refer
only to files, ports, variables and endpoints that exist."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from bot.entry.cli import build_parser
from bot.ops.settings import Settings
from bot.telegram.server import create_app
from tests.fakes.telegram import BotApiStandIn
from tests.process_support import child_process, terminate

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "docker-compose.yml"
K8S = DEPLOY / "k8s"
UNIT = DEPLOY / "systemd" / "g21bot.service"
ALIASES = {str(info.alias) for info in Settings.model_fields.values() if info.alias}
DEFAULT_PORT = Settings.model_fields["port"].default
# Variables of our own namespaces must be settings; others (PYTHONUNBUFFERED, chroma's
# IS_PERSISTENT …) belong to someone else.
OURS = re.compile(r"^(G21|TELEGRAM|CHROMA|OPENAI)_")
# Read by the container's command (`sh -c`), not by the settings.
SHELL_VARIABLES = {"G21_MODE"}
REAL_LOOKING_TOKEN = "8123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw_"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
# The value every secret in deploy/k8s/secret.example.yaml has until the operator fills it in.
PLACEHOLDER = "REPLACE_ME"


def route_paths() -> set[str]:
    """Paths the bot's HTTP server serves (webhook path from a sample URL)."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, G21_WEBHOOK_URL="https://x.example/telegram/webhook"
    )
    app = create_app(settings, application=None, webhook=False)  # type: ignore[arg-type]
    return {route.path for route in app.routes}  # type: ignore[attr-defined]


def assert_g21bot_command(argv: list[str]) -> None:
    """``g21bot SUBCOMMAND …`` parses with the real CLI parser."""
    assert argv and Path(argv[0]).name == "g21bot", argv
    try:
        build_parser().parse_args(argv[1:])
    except SystemExit as exc:  # argparse's way of refusing
        raise AssertionError(f"`{shlex.join(argv)}` is not a valid g21bot command") from exc


def g21bot_commands(script: str) -> list[list[str]]:
    """Every ``g21bot …`` invocation in a shell script, up to ``;``, ``&&``, ``||`` or ``;``."""
    found = []
    for match in re.finditer(r"(?:^|[\s;&|(])((?:\S*/)?g21bot(?:\s+[^;&|\n)]*)?)", script):
        argv = shlex.split(match.group(1))
        found.append(argv)
    return found


# --- the Dockerfile -------------------------------------------------------------------------


@dataclass
class Stage:
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse_dockerfile(path: Path) -> list[Stage]:
    """Stages of a Dockerfile: (INSTRUCTION, arguments) with continuations joined."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = args.split()
            stages.append(Stage(parts[2] if len(parts) > 2 and parts[1].upper() == "AS" else ""))
        stages[-1].instructions.append((keyword, args.strip()))
    return stages


def parse_env(args: str) -> dict[str, str]:
    return dict(token.split("=", 1) for token in shlex.split(args))


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value)
    return value


def healthcheck_command(stage: Stage) -> list[str]:
    """The HEALTHCHECK's command, which must be in exec form (hadolint DL3025)."""
    (healthcheck,) = stage.all("HEALTHCHECK")
    return exec_form(healthcheck.split(" CMD ", 1)[1])


def test_dockerfile_copies_only_files_that_exist_and_installs_non_editable() -> None:
    build, runtime = parse_dockerfile(DOCKERFILE)
    copies = [c for c in build.all("COPY") if not c.startswith("--")]
    sources = [src for copy in copies for src in shlex.split(copy)[:-1]]
    assert {"pyproject.toml", "constraints.txt", "bot", "retrieval", "prompts"} <= set(sources)
    for src in sources:
        assert (ROOT / src).exists(), f"COPY {src}: no such file in the repository"
    # pyproject.toml's readme must be copied too, or the build fails.
    assert "README.md" in sources
    (pip,) = [r for r in build.all("RUN") if "pip install" in r]
    argv = shlex.split(pip)
    assert "-e" not in argv and "--editable" not in argv
    assert argv[argv.index("-c") + 1] == "constraints.txt"
    assert runtime.all("COPY") == ["--from=build /opt/venv /opt/venv"]
    env = {k: v for e in runtime.all("ENV") for k, v in parse_env(e).items()}
    assert set(env) - {"PATH", "PYTHONUNBUFFERED"} <= ALIASES
    assert [int(p) for p in runtime.all("EXPOSE")] == [int(env["G21_PORT"])]
    (cmd,) = runtime.all("CMD")
    for argv in g21bot_commands(exec_form(cmd)[-1]):
        assert_g21bot_command(argv)
    probe = healthcheck_command(runtime)
    assert probe[0] == "python" and "/healthz" in probe[-1] and "/healthz" in route_paths()
    # The image's user, numeric (so the runtime can tell it is not root), is the one the
    # Kubernetes pod runs as.
    (useradd,) = [r for r in runtime.all("RUN") if "useradd" in r]
    uid = re.search(r"--uid (\d+)", useradd)
    gid = re.search(r"--gid (\d+)", useradd)
    assert uid and gid
    assert runtime.all("USER") == [f"{uid.group(1)}:{gid.group(1)}"]
    pod = next(d for d in k8s_documents() if d["kind"] == "Deployment")
    context = pod["spec"]["template"]["spec"]["securityContext"]
    assert context["runAsUser"] == int(uid.group(1))
    assert context["runAsGroup"] == context["fsGroup"] == int(gid.group(1))


def _dockerfile_env(stage: Stage, mapping: dict[str, str], base: dict[str, str]) -> dict[str, str]:
    env = dict(base)
    for args in stage.all("ENV"):
        for key, value in parse_env(args).items():
            value = value.replace("$PATH", env.get("PATH", ""))
            for image_path, local in mapping.items():
                value = value.replace(image_path, local)
            env[key] = value
    return env


def _host(argv: list[str], mapping: dict[str, str]) -> list[str]:
    out = []
    for arg in argv:
        for image_path, local in mapping.items():
            if arg == image_path or arg.startswith(image_path + "/"):
                arg = local + arg[len(image_path) :]
        out.append(arg)
    return out


NETWORK_TROUBLE = (
    "NewConnectionError",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "Connection refused",
    "Max retries exceeded",
    "ProxyError",
    "Read timed out",
)


def _pip(argv: list[str], cwd: Path, env: dict[str, str]) -> None:
    done = subprocess.run(
        argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    if done.returncode != 0:
        output = done.stdout[-3000:] + done.stderr[-3000:]
        if any(sign in output for sign in NETWORK_TROUBLE):
            pytest.skip(f"the package registry is unreachable for pip:\n{output[-1500:]}")
        raise AssertionError(f"`{shlex.join(argv)}` failed:\n{output}")


def _wait_http_ok(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as http:
        while time.monotonic() < deadline:
            assert process.poll() is None, f"g21bot exited with {process.returncode}"
            try:
                if http.get(url).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)  # a probe loop with a deadline, like a container's healthcheck
    raise AssertionError(f"{url} did not answer 200 in {timeout} s")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_dockerfile_steps_reproduced_without_docker(tmp_path: Path) -> None:
    """Build stage: fresh venv, ``pip install -c constraints.txt ".[openai]"`` from a copy
    of exactly what the Dockerfile copies (non-editable). Runtime stage: the image's ENV,
    ``g21bot ingest`` at build time, then the image's CMD, /healthz and /readyz, the
    HEALTHCHECK command, and SIGTERM → exit 0."""
    started = time.monotonic()
    build, runtime = parse_dockerfile(DOCKERFILE)
    src, venv, data = tmp_path / "src", tmp_path / "venv", tmp_path / "data"
    mapping = {"/opt/venv": str(venv), "/src": str(src), "/data": str(data)}
    outside = {
        k: v
        for k, v in os.environ.items()
        if k not in ALIASES and k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}
    }
    outside["ANONYMIZED_TELEMETRY"] = "False"
    # The local pip cache and wheels are reused here (the image sets PIP_NO_CACHE_DIR only
    # to keep the layer small).
    build_env = _dockerfile_env(build, mapping, outside)
    build_env.pop("PIP_NO_CACHE_DIR", None)

    (workdir,) = build.all("WORKDIR")
    assert workdir == "/src"
    src.mkdir()
    for kw, args in build.instructions:
        if kw == "COPY":
            *sources, dest = shlex.split(args)
            target = src / dest if dest not in ("./", ".") else src
            for name in sources:
                origin = ROOT / name
                if origin.is_dir():
                    shutil.copytree(
                        origin,
                        target,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
                        dirs_exist_ok=True,
                    )
                else:
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(origin, target / origin.name)
        elif kw == "RUN":
            argv = _host(shlex.split(args), mapping)
            if argv[:3] == ["python", "-m", "venv"]:
                subprocess.run([sys.executable, "-m", "venv", *argv[3:]], check=True)
            elif "pip" in Path(argv[0]).name and "install" in argv:
                _pip(argv, src, build_env)
            else:
                raise AssertionError(f"unexpected build step: RUN {args}")
    installed = time.monotonic()

    # Installed as a package (not editable, not from the checkout).
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import bot, retrieval, prompts; print(bot.__file__)"],
        cwd=tmp_path,
        env=build_env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(venv), where
    assert not list(venv.glob("lib/python*/site-packages/__editable__*"))

    # Runtime stage: ENV, USER's home as WORKDIR, `RUN g21bot ingest` (the built-in index).
    port = _free_port()
    with BotApiStandIn(token=REAL_LOOKING_TOKEN) as standin:
        run_env = _dockerfile_env(runtime, mapping, outside)
        assert run_env["G21_DATA_DIR"] == str(data)
        # Loopback here (the image listens on 0.0.0.0 inside its own network namespace).
        run_env.update(
            G21_LISTEN="127.0.0.1",
            G21_PORT=str(port),
            TELEGRAM_BOT_TOKEN=standin.token,
            TELEGRAM_BASE_URL=standin.base_url,
        )
        data.mkdir()
        (workdir,) = runtime.all("WORKDIR")
        cwd = Path(mapping[workdir])
        for args in runtime.all("RUN"):
            if "g21bot" in args:
                argv = _host(shlex.split(args), mapping)
                done = subprocess.run(
                    argv, cwd=cwd, env=run_env, capture_output=True, text=True, timeout=300
                )
                assert done.returncode == 0, done.stderr[-3000:]
                assert "ingest:" in done.stdout
        assert (data / "chroma").is_dir()
        ingested = time.monotonic()

        (cmd,) = runtime.all("CMD")
        stderr_path = tmp_path / "g21bot.stderr"
        with child_process(
            _host(exec_form(cmd), mapping), env=run_env, cwd=cwd, stderr_path=stderr_path
        ) as process:
            _wait_http_ok(f"http://127.0.0.1:{port}/healthz", process, 120)
            _wait_http_ok(f"http://127.0.0.1:{port}/readyz", process, 60)
            standin.wait_for_request("getUpdates", timeout=30)  # polling by default
            probe = _host(healthcheck_command(runtime), mapping)
            probe[0] = str(venv / "bin" / probe[0])  # `python` from PATH=/opt/venv/bin:…
            assert subprocess.run(probe, env=run_env, timeout=30).returncode == 0
            returncode = terminate(process, timeout=60)
        log = stderr_path.read_text(errors="replace")
        assert returncode == 0, log[-3000:]
        assert standin.violations == []
        assert REAL_LOOKING_TOKEN.split(":")[1] not in log
    print(
        f"\ndocker steps: install {installed - started:.1f} s, ingest {ingested - installed:.1f}"
        f" s, serve+stop {time.monotonic() - ingested:.1f} s"
    )


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- docker compose ---------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def test_compose_build_paths_exist() -> None:
    bot = compose()["services"]["bot"]
    context = (COMPOSE.parent / bot["build"]["context"]).resolve()
    assert context == ROOT
    assert (context / bot["build"]["dockerfile"]).resolve() == DOCKERFILE
    # env_file is the operator's copy of .env.example (deploy/README.md: cp .env.example …).
    env_file = (COMPOSE.parent / bot["env_file"]).resolve()
    assert env_file == DEPLOY / ".env"
    assert "cp .env.example deploy/.env" in (DEPLOY / "README.md").read_text()
    assert (ROOT / ".env.example").is_file()


def test_compose_environment_names_are_settings() -> None:
    services = compose()["services"]
    bot = services["bot"]
    env = _environment(bot)
    script = "\n".join(bot.get("command") or [])
    for name in env:
        if name in SHELL_VARIABLES:
            assert f"$${name}" in script or f"${name}" in script, name
        else:
            assert name in ALIASES, f"compose sets {name}, which is not a setting"
    Settings(_env_file=None, **{k: v for k, v in env.items() if k in ALIASES})  # type: ignore[call-arg]
    # The bot talks to the chroma service on the port that service exposes.
    assert env["CHROMA_HOST"] in services
    exposed = [str(p) for p in services["chroma"].get("expose", [])]
    assert env["CHROMA_PORT"] in exposed


def test_compose_ports_match_the_configured_port() -> None:
    bot = compose()["services"]["bot"]
    port = int(_environment(bot).get("G21_PORT", DEFAULT_PORT))
    published = [str(p).split(":") for p in bot["ports"]]
    assert published and all(int(p[-1]) == port for p in published)
    assert all(p[0] == "127.0.0.1" for p in published if len(p) == 3), "probes stay private"
    _build, runtime = parse_dockerfile(DOCKERFILE)
    assert [int(p) for p in runtime.all("EXPOSE")] == [port]


def test_compose_commands_volumes_and_images() -> None:
    data = compose()
    services = data["services"]
    declared = set(data.get("volumes") or {})
    for service in services.values():
        for volume in service.get("volumes", []):
            name = str(volume).split(":")[0]
            if not name.startswith((".", "/")):
                assert name in declared, name
        for dependency in service.get("depends_on", []):
            assert dependency in services
    bot = services["bot"]
    commands = g21bot_commands("\n".join(bot["command"][2:]))
    assert commands
    for argv in commands:
        assert_g21bot_command(argv)
    data_dir = _environment(bot)["G21_DATA_DIR"]
    assert any(str(v).split(":")[1] == data_dir for v in bot["volumes"])
    assert services["chroma"]["image"].split(":")[1] == _pinned("chromadb")
    assert bot["image"].split(":")[1] == VERSION  # the tag compose gives the image it builds


def test_compose_chroma_is_reachable_only_by_the_bot() -> None:
    data = compose()
    services = data["services"]
    networks = data["networks"]
    # Chroma has no authentication: it sits on an internal network only, publishes nothing.
    chroma, bot = services["chroma"], services["bot"]
    assert "ports" not in chroma
    (backend,) = chroma["networks"]
    assert networks[backend]["internal"] is True
    assert backend in bot["networks"]
    others = [n for n, s in services.items() if n not in ("chroma", "bot")]
    assert not [n for n in others if backend in (services[n].get("networks") or [])]
    # The bot writes only its data volume and a tmpfs.
    assert bot["read_only"] is True
    assert "/tmp" in bot["tmpfs"]
    for service in (chroma, bot):
        assert service["cap_drop"] == ["ALL"]
        assert "no-new-privileges:true" in service["security_opt"]


def _pinned(package: str) -> str:
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        name, _, version = line.partition("==")
        if name.strip().lower() == package:
            return version.strip()
    raise AssertionError(f"{package} is not pinned in constraints.txt")


# --- Kubernetes -------------------------------------------------------------------------------


def k8s_documents() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                assert {"apiVersion", "kind", "metadata"} <= set(doc), path
                docs.append(doc)
    return docs


def _one(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [
        d
        for d in k8s_documents()
        if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"{kind} {name}: {len(found)} manifests"
    return found[0]


def _config() -> dict[str, str]:
    return {str(k): str(v) for k, v in _one("ConfigMap")["data"].items()}


def _bot_pod() -> dict[str, Any]:
    return _one("Deployment", "g21bot")["spec"]["template"]


def _container(pod: dict[str, Any], name: str) -> dict[str, Any]:
    (container,) = [c for c in pod["spec"]["containers"] if c["name"] == name]
    return container


def test_k8s_manifests_parse_and_share_one_namespace() -> None:
    docs = k8s_documents()
    namespaces = {d["metadata"]["name"] for d in docs if d["kind"] == "Namespace"}
    assert namespaces == {"g21bot"}
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") in namespaces, doc["metadata"]


def test_k8s_env_from_references_exist_and_keys_are_settings() -> None:
    docs = k8s_documents()
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    pod = _bot_pod()
    containers = pod["spec"]["containers"] + pod["spec"].get("initContainers", [])
    referenced = 0
    for container in containers:
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                assert ("ConfigMap", source["configMapRef"]["name"]) in names
            if "secretRef" in source:
                assert ("Secret", source["secretRef"]["name"]) in names
            referenced += 1
        for item in container.get("env", []):
            assert item["name"] in ALIASES, item["name"]
    assert referenced >= 3
    config = _config()
    assert set(config) <= ALIASES, sorted(set(config) - ALIASES)
    secret = _one("Secret")
    assert set(secret["stringData"]) <= ALIASES
    assert {"TELEGRAM_BOT_TOKEN", "G21_WEBHOOK_SECRET"} <= set(secret["stringData"])
    # No secret in the ConfigMap.
    assert not set(config) & {"TELEGRAM_BOT_TOKEN", "G21_WEBHOOK_SECRET", "OPENAI_API_KEY"}
    # ConfigMap values are valid settings, and the webhook URL is usable.
    settings = Settings(_env_file=None, **config)  # type: ignore[call-arg]
    assert settings.webhook_url.startswith("https://")


def test_k8s_probes_and_ports_match_the_server() -> None:
    served = route_paths()
    config = _config()
    pod = _bot_pod()
    bot = _container(pod, "bot")
    ports = {p.get("name"): p["containerPort"] for p in bot["ports"]}
    assert list(ports.values()) == [int(config["G21_PORT"])]
    assert config["G21_LISTEN"] == "0.0.0.0"  # reachable by the kubelet and the Service
    probes = {k: bot[k]["httpGet"] for k in ("readinessProbe", "livenessProbe")}
    assert probes["readinessProbe"]["path"] == "/readyz"
    assert probes["livenessProbe"]["path"] == "/healthz"
    for probe in probes.values():
        assert probe["path"] in served
        port = probe["port"]
        assert port in ports or port in ports.values(), port
    assert_g21bot_command(bot["command"])
    assert "--webhook" in bot["command"]  # the ConfigMap configures webhook mode
    for init in pod["spec"].get("initContainers", []):
        assert_g21bot_command(init["command"])
        assert init["image"] == bot["image"]
    # G21_DATA_DIR is a writable volume (the root filesystem is read-only).
    mounts = {m["mountPath"] for m in bot["volumeMounts"]}
    assert config["G21_DATA_DIR"] in mounts


def test_k8s_ingress_serves_exactly_the_webhook_path() -> None:
    config = _config()
    url = urlsplit(config["G21_WEBHOOK_URL"])
    ingress = _one("Ingress")
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == url.hostname
    assert any(url.hostname in tls["hosts"] for tls in ingress["spec"]["tls"])
    (path,) = rule["http"]["paths"]
    assert path["path"] == url.path
    assert path["pathType"] == "Exact"
    backend = path["backend"]["service"]
    service = _one("Service", backend["name"])
    assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}


def test_k8s_services_select_their_pods_and_target_named_ports() -> None:
    workloads = [d for d in k8s_documents() if d["kind"] in ("Deployment", "StatefulSet")]
    for service in (d for d in k8s_documents() if d["kind"] == "Service"):
        selector = service["spec"]["selector"]
        matches = [
            w
            for w in workloads
            if selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(matches) == 1, service["metadata"]["name"]
        pod = matches[0]["spec"]["template"]
        names = {p.get("name") for c in pod["spec"]["containers"] for p in c.get("ports", [])}
        numbers = {p["containerPort"] for c in pod["spec"]["containers"] for p in c["ports"]}
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            assert target in names or target in numbers, target
    for workload in workloads:
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert workload["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_k8s_chroma_settings_point_at_the_chroma_service() -> None:
    config = _config()
    service = _one("Service", config["CHROMA_HOST"])
    assert int(config["CHROMA_PORT"]) in {p["port"] for p in service["spec"]["ports"]}
    chroma = _one("StatefulSet", "chroma")["spec"]["template"]["spec"]["containers"][0]
    assert chroma["image"].split(":")[1] == _pinned("chromadb")
    assert chroma["readinessProbe"]["httpGet"]["path"] == "/api/v2/heartbeat"


def _workloads() -> list[dict[str, Any]]:
    return [d for d in k8s_documents() if d["kind"] in ("Deployment", "StatefulSet")]


def _all_containers(pod_spec: dict[str, Any]) -> list[dict[str, Any]]:
    return list(pod_spec["containers"]) + list(pod_spec.get("initContainers") or [])


def test_k8s_every_container_is_restricted_and_has_resources() -> None:
    for workload in _workloads():
        name = workload["metadata"]["name"]
        spec = workload["spec"]["template"]["spec"]
        assert spec["automountServiceAccountToken"] is False, name
        pod_context = spec["securityContext"]
        assert pod_context["runAsNonRoot"] is True, name
        assert pod_context["runAsUser"] >= 10000, name  # clear of the host's users
        assert pod_context["seccompProfile"] == {"type": "RuntimeDefault"}, name
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        claims = {t["metadata"]["name"] for t in workload["spec"].get("volumeClaimTemplates", [])}
        for container in _all_containers(spec):
            where = f"{name}/{container['name']}"
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, where
            assert context.get("privileged", False) is False, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["runAsNonRoot"] is True, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, where
            resources = container["resources"]
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources[kind]), f"{where} {kind}"
            # A pinned tag, pulled every time (digests are pinned by the operator at release).
            image, _, tag = container["image"].rpartition(":")
            assert image and tag and tag != "latest", where
            assert container["imagePullPolicy"] == "Always", where
            # With a read-only root filesystem, /tmp is a volume; every mount is declared.
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            assert "/tmp" in mounts, where
            for volume in mounts.values():
                assert volume in volumes or volume in claims, f"{where}: {volume}"
        for container in spec["containers"]:
            assert "livenessProbe" in container and "readinessProbe" in container, name


def test_k8s_images_are_the_project_version() -> None:
    pod = _bot_pod()
    for container in _all_containers(pod["spec"]):
        assert container["image"].rpartition(":")[2] == VERSION, container["name"]


def test_k8s_bot_state_lives_on_a_persistent_volume_claim() -> None:
    config = _config()
    spec = _bot_pod()["spec"]
    bot = _container(_bot_pod(), "bot")
    (data,) = [m["name"] for m in bot["volumeMounts"] if m["mountPath"] == config["G21_DATA_DIR"]]
    (volume,) = [v for v in spec["volumes"] if v["name"] == data]
    claim = _one("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    # A ReadWriteOnce volume: one pod at a time, the old one gone before the new one starts.
    deployment = _one("Deployment", "g21bot")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"


def _policy_for(labels: dict[str, str]) -> dict[str, Any]:
    policies = [
        d
        for d in k8s_documents()
        if d["kind"] == "NetworkPolicy"
        and d["spec"]["podSelector"].get("matchLabels")
        and d["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    ]
    assert len(policies) == 1, labels
    return policies[0]


def _ports(rule: dict[str, Any]) -> set[tuple[str, int]]:
    return {(p.get("protocol", "TCP"), p["port"]) for p in rule.get("ports", [])}


def test_k8s_network_policies_let_only_the_bot_reach_chroma() -> None:
    config = _config()
    policies = [d for d in k8s_documents() if d["kind"] == "NetworkPolicy"]
    # A default deny for the namespace: pods without a policy of their own get no traffic.
    (deny,) = [p for p in policies if p["spec"]["podSelector"] == {}]
    assert set(deny["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny["spec"] and "egress" not in deny["spec"]

    bot_labels = _bot_pod()["metadata"]["labels"]
    chroma_pod = _one("StatefulSet", "chroma")["spec"]["template"]
    chroma_labels = chroma_pod["metadata"]["labels"]
    chroma_port = chroma_pod["spec"]["containers"][0]["ports"][0]["containerPort"]
    assert int(config["CHROMA_PORT"]) == chroma_port

    chroma = _policy_for(chroma_labels)["spec"]
    assert set(chroma["policyTypes"]) == {"Ingress", "Egress"}
    assert chroma["egress"] == []  # Chroma reaches nothing
    (rule,) = chroma["ingress"]
    (peer,) = rule["from"]
    assert set(peer) == {"podSelector"}  # pods of this namespace, no ipBlock
    selector = peer["podSelector"]["matchLabels"].items()
    assert selector <= bot_labels.items() and not selector <= chroma_labels.items()
    assert _ports(rule) == {("TCP", chroma_port)}

    bot = _policy_for(bot_labels)["spec"]
    assert set(bot["policyTypes"]) == {"Ingress", "Egress"}
    (ingress,) = bot["ingress"]
    assert _ports(ingress) == {("TCP", int(config["G21_PORT"]))}
    egress = bot["egress"]
    allowed = set().union(*(_ports(rule) for rule in egress))
    assert allowed == {("UDP", 53), ("TCP", 53), ("TCP", chroma_port), ("TCP", 443)}
    (to_chroma,) = [r for r in egress if ("TCP", chroma_port) in _ports(r)]
    assert to_chroma["to"] == [{"podSelector": {"matchLabels": chroma_labels}}]
    (https,) = [r for r in egress if ("TCP", 443) in _ports(r)]
    # HTTPS to public addresses only: not into the cluster's or the cloud's private ranges.
    private = {
        "0.0.0.0/0": {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"},
        "::/0": {"fc00::/7", "fe80::/10"},
    }
    for peer in https["to"]:
        block = peer["ipBlock"]
        assert private[block["cidr"]] <= set(block["except"]), block


def test_k8s_secret_example_holds_only_placeholders() -> None:
    secret = _one("Secret")
    assert secret["stringData"] and set(secret["stringData"].values()) == {PLACEHOLDER}
    text = (K8S / "secret.example.yaml").read_text()
    # Commented-out optional secrets too.
    for line in text.splitlines():
        key = re.match(r"\s*#?\s*([A-Z][A-Z0-9_]+):\s*(.*)", line)
        if key:
            assert key.group(1) in ALIASES, key.group(1)
            assert key.group(2) == f'"{PLACEHOLDER}"', line
    assert PLACEHOLDER in (DEPLOY / "README.md").read_text()


# --- systemd -------------------------------------------------------------------------------


def parse_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """A systemd unit as {section: [(key, value), …]} (keys may repeat)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            sections[current] = []
            continue
        assert current is not None, line
        key, sep, value = line.partition("=")
        assert sep, f"not key=value: {line}"
        sections[current].append((key.strip(), value.strip()))
    return sections


def _values(section: list[tuple[str, str]], key: str) -> list[str]:
    return [v for k, v in section if k == key]


def test_systemd_unit_matches_the_documented_install() -> None:
    unit = parse_unit(UNIT)
    assert set(unit) == {"Unit", "Service", "Install"}
    service = unit["Service"]
    guide = (DEPLOY / "README.md").read_text()
    clone = re.search(r"git clone \S+(?: [^/\n]*)? (/\S+)", guide)
    assert clone, "deploy/README.md names no install path"
    install = clone.group(1)
    assert f"cd {install}" in guide and "python3 -m venv .venv" in guide
    executable = f"{install}/.venv/bin/g21bot"
    for key in ("ExecStartPre", "ExecStart"):
        (command,) = _values(service, key)
        argv = shlex.split(command)
        assert argv[0] == executable, command
        assert_g21bot_command(argv)
    assert shlex.split(_values(service, "ExecStart")[0])[1:] == ["run"]
    assert shlex.split(_values(service, "ExecStartPre")[0])[1:] == ["ingest"]
    (env_file,) = _values(service, "EnvironmentFile")
    assert env_file.lstrip("-") in guide  # the file the guide tells you to create
    assert f"sudo cp .env.example {env_file}" in guide


def test_systemd_unit_is_hardened_and_writes_only_its_data_dir() -> None:
    service = dict(parse_unit(UNIT)["Service"])  # last value wins, as in systemd
    unit = parse_unit(UNIT)["Service"]
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["Restart"] == "on-failure"
    assert service["DynamicUser"] == "yes"
    assert service["KillSignal"] == "SIGTERM"
    environment = dict(
        item.split("=", 1) for value in _values(unit, "Environment") for item in shlex.split(value)
    )
    for name in environment:
        if OURS.match(name):
            assert name in ALIASES, name
    data_dir = environment["G21_DATA_DIR"]
    writable = service["ReadWritePaths"].split()
    assert data_dir in writable
    assert data_dir == f"/var/lib/{service['StateDirectory']}"
    assert service["WorkingDirectory"] in writable
    assert service["EnvironmentFile"].startswith("/etc/")
