"""Tests of docker-compose.yml: valid Compose, and every service, file and address it refers to exists.

No Docker engine or `docker compose` is available here, so the file is interpolated the
way Compose does it and then validated by compose-spec (a strict Compose Specification
parser that rejects unknown keys); the cross-references are checked by hand.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
from compose_spec import PyCompose

from chartlib import REPO

COMPOSE_FILE = REPO / "docker-compose.yml"
PROFILES = ["demo", "kube"]
HERALD_BINARIES = {"herald-exporter", "herald-ruler", "herald"}
TOKEN = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])((?:[^{}]|\{[^{}]*\})*))?\}")


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose variable interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error},
    nested defaults, and `$$` for a literal dollar."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group(1), match.group(2), match.group(3)
        value = env.get(name)
        if op == ":-" and not value:
            return interpolate(arg, env)
        if op == "-" and value is None:
            return interpolate(arg, env)
        if op in (":?", "?") and not value:
            raise ValueError(f"required variable {name} is missing: {arg}")
        return value or ""

    return TOKEN.sub(one, text)


@pytest.fixture(scope="module")
def raw_text() -> str:
    return COMPOSE_FILE.read_text()


@pytest.fixture(scope="module")
def compose(raw_text: str) -> dict[str, Any]:
    env = {"HOME": "/home/user"}
    return yaml.safe_load(interpolate(raw_text, env))


def active(compose: dict[str, Any], profile: str) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in compose["services"].items() if not s.get("profiles") or profile in s["profiles"]}


def command(service: dict[str, Any]) -> list[str]:
    cmd = service.get("command", [])
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


def flag(cmd: list[str], name: str) -> str:
    assert name in cmd, f"{name} missing from {cmd}"
    return cmd[cmd.index(name) + 1]


def network_names(name: str, service: dict[str, Any]) -> set[str]:
    names = {name}
    networks = service.get("networks") or {}
    if isinstance(networks, dict):
        for net in networks.values():
            names.update((net or {}).get("aliases", []))
    return names


def volume_source(spec: Any) -> tuple[str, str, str]:
    """(type, source, target) of a short or long volume definition."""
    if isinstance(spec, dict):
        return spec["type"], str(spec.get("source", "")), spec["target"]
    source, target = spec.split(":")[:2]
    kind = "bind" if source.startswith((".", "/", "~")) else "volume"
    return kind, source, target


def test_file_is_valid_compose(raw_text: str, compose: dict[str, Any]) -> None:
    parsed = PyCompose.from_yaml(yaml.safe_dump(compose))
    parsed.validate()  # networks, volumes, configs and secrets that services use are defined
    assert parsed.name == "herald"
    assert set(parsed.service_names()) == set(compose["services"])
    # Interpolation with no variable set at all must still produce a usable file.
    PyCompose.from_yaml(yaml.safe_dump(yaml.safe_load(interpolate(raw_text, {})))).validate()


def test_profiles_have_exporter_two_rulers_and_a_sink(compose: dict[str, Any]) -> None:
    for service in compose["services"].values():
        assert set(service.get("profiles", [])) <= set(PROFILES)
    for profile in PROFILES:
        services = active(compose, profile)
        cmds = {name: command(s) for name, s in services.items() if "command" in s}
        exporters = [n for n, c in cmds.items() if c[:1] == ["herald-exporter"]]
        rulers = [n for n, c in cmds.items() if c[:1] == ["herald-ruler"]]
        assert len(exporters) == 1, (profile, exporters)
        assert len(rulers) == 2, (profile, rulers)
        assert "sink" in services
    demo = {n: command(s) for n, s in active(compose, "demo").items()}
    assert ["herald", "simulate"] == demo["simulator"][:2]
    assert "simulator" not in active(compose, "kube")


def test_depends_on_targets_exist_in_the_same_profiles(compose: dict[str, Any]) -> None:
    for profile in PROFILES:
        services = active(compose, profile)
        for name, service in services.items():
            deps = service.get("depends_on", {})
            deps = {d: {} for d in deps} if isinstance(deps, list) else deps
            for dep, opts in deps.items():
                assert dep in compose["services"], f"{name} depends on unknown service {dep}"
                if opts.get("required", True):
                    assert dep in services, f"{name} needs {dep}, which profile {profile} does not start"
                if opts.get("condition") == "service_healthy":
                    assert "healthcheck" in compose["services"][dep]


def test_herald_services_use_the_repository_image(compose: dict[str, Any]) -> None:
    herald = {n: s for n, s in compose["services"].items() if command(s)[:1] and command(s)[0] in HERALD_BINARIES}
    assert {"simulator", "exporter", "exporter-kube", "ruler-1", "ruler-2"} == set(herald)
    images = {s["image"] for s in herald.values()}
    assert len(images) == 1
    for name, service in herald.items():
        build = service["build"]
        context = (REPO / build["context"]).resolve()
        assert context == REPO
        assert (context / build.get("dockerfile", "Dockerfile")).is_file()
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"]


def test_files_and_volumes_exist(compose: dict[str, Any]) -> None:
    named = set(compose.get("volumes", {}))
    used = set()
    for name, service in compose["services"].items():
        for spec in service.get("volumes", []):
            kind, source, _ = volume_source(spec)
            if kind == "volume":
                assert source in named, f"{name} uses undeclared volume {source}"
                used.add(source)
            elif not source.startswith("/"):
                assert (REPO / source).exists(), f"{name} mounts missing file {source}"
        for cfg in service.get("configs", []):
            assert cfg["source"] in compose["configs"], f"{name} uses undeclared config {cfg['source']}"
    assert used == named, f"declared but unused volumes: {named - used}"
    for cfg in compose["configs"].values():
        if "file" in cfg:
            assert (REPO / cfg["file"]).is_file()
        else:
            assert cfg["content"].strip()


def test_kube_profile_mounts_the_users_kubeconfig(raw_text: str) -> None:
    exporter = yaml.safe_load(interpolate(raw_text, {"HERALD_KUBECONFIG": "/tmp/kc", "HOME": "/h"}))[
        "services"]["exporter-kube"]
    (mount,) = [v for v in exporter["volumes"] if isinstance(v, dict)]
    assert mount["source"] == "/tmp/kc" and mount["read_only"] is True
    assert mount["bind"]["create_host_path"] is False  # a missing file is an error, not a new directory
    assert flag(command(exporter), "--kubeconfig") == mount["target"]
    default = yaml.safe_load(interpolate(raw_text, {"HOME": "/h"}))["services"]["exporter-kube"]["volumes"][0]
    assert default["source"] == "/h/.kube/config"


def test_demo_exporter_reads_the_simulators_kubeconfig(compose: dict[str, Any]) -> None:
    simulator = compose["services"]["simulator"]
    exporter = compose["services"]["exporter"]
    written = Path(flag(command(simulator), "--kubeconfig-out"))
    read = Path(flag(command(exporter), "--kubeconfig"))
    sim_mounts = {volume_source(v)[2]: volume_source(v)[1] for v in simulator["volumes"]}
    exp_mounts = {volume_source(v)[2]: volume_source(v)[1] for v in exporter["volumes"]}
    assert sim_mounts[str(written.parent)] == exp_mounts[str(read.parent)]
    assert written.name == read.name
    server = urlparse(flag(command(simulator), "--server-url"))
    assert server.hostname in network_names("simulator", simulator)
    assert server.port == int(flag(command(simulator), "--listen").rsplit(":", 1)[1])


def test_shared_config_points_at_services_that_exist(compose: dict[str, Any]) -> None:
    config = yaml.safe_load(compose["configs"]["herald-config"]["content"])
    receivers = {r["name"]: r for r in config["receivers"]}
    routed = {m["receiver"] for route in config["route"]["routes"] for m in route.get("match", [])}
    assert routed <= set(receivers)
    assert "layout" not in str(config)
    for profile in PROFILES:
        services = active(compose, profile)
        names = {alias: n for n, s in services.items() for alias in network_names(n, s)}
        for url in config["ruler"]["exporters"]:
            target = names.get(urlparse(url).hostname)
            assert target, f"profile {profile}: no service answers to {url}"
            assert flag(command(services[target]), "--grpc-address").endswith(f":{urlparse(url).port}")
        endpoint = urlparse(receivers["sink"]["webhook"]["endpoint"])
        assert endpoint.hostname in names
    for name in ("exporter", "exporter-kube", "ruler-1", "ruler-2"):
        service = compose["services"][name]
        (mount,) = [c for c in service["configs"] if c["source"] == "herald-config"]
        assert flag(command(service), "--config") == mount["target"]


def test_webhook_sink_script_listens_where_the_config_sends(compose: dict[str, Any]) -> None:
    script = compose["configs"]["webhook-sink"]["content"]
    compile(script, "webhook_sink.py", "exec")
    config = yaml.safe_load(compose["configs"]["herald-config"]["content"])
    port = urlparse(config["receivers"][0]["webhook"]["endpoint"]).port
    assert f'("0.0.0.0", {port})' in script
    sink = compose["services"]["sink"]
    assert flag(sink["command"], "-u") == sink["configs"][0]["target"]


def test_ports_are_published_on_loopback_only(compose: dict[str, Any]) -> None:
    for profile in PROFILES:
        published = []
        for name, service in active(compose, profile).items():
            for port in service.get("ports", []):
                assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
                published.append(str(port).split(":")[1])
        assert len(published) == len(set(published)), f"profile {profile} publishes a host port twice"


def test_compose_interpolation_helper() -> None:
    env = {"A": "1", "EMPTY": ""}
    assert interpolate("${A} ${B:-x} ${EMPTY:-y} ${EMPTY-z} $${A} ${B:-${A}/k}", env) == "1 x y  ${A} 1/k"
    with pytest.raises(ValueError):
        interpolate("${B:?needed}", env)
