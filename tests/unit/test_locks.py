"""The locks are real resolver outputs a plain pip honours: every pin hashed, the dev lock holding
the runtime pins unchanged, setup.cfg's ranges satisfied by the locked versions, the build
backend pinned to what pyproject.toml asks for, one version string, and no aioboto3."""

from __future__ import annotations

import configparser
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import bedrock_gateway

ROOT = Path(__file__).resolve().parents[2]


def pins(path: Path) -> dict[str, tuple[str, list[str]]]:
    """{name: (version, hashes)} of a pip-compile / uv lock file."""
    out: dict[str, tuple[str, list[str]]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", path.read_text()):
        match = re.match(r"([A-Za-z0-9_.-]+)==(\S+)", block)
        if match:
            out[canonicalize_name(match.group(1))] = (
                match.group(2), re.findall(r"--hash=sha256:([0-9a-f]{64})", block))
    return out


def install_requires() -> list[Requirement]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    lines = config["options"]["install_requires"].splitlines()
    return [Requirement(line) for line in (x.strip() for x in lines) if line
            and not line.startswith("#")]


def test_every_pin_is_hashed():
    for name in ("lock.txt", "dev-lock.txt"):
        locked = pins(ROOT / "requirements" / name)
        assert len(locked) > 20, name
        unhashed = [pkg for pkg, (_, hashes) in locked.items() if not hashes]
        assert not unhashed, f"{name}: pins without --hash: {unhashed}"
        assert "--no-deps" not in (ROOT / "requirements" / name).read_text()


def test_dev_lock_keeps_the_runtime_pins():
    runtime, dev = pins(ROOT / "requirements/lock.txt"), pins(ROOT / "requirements/dev-lock.txt")
    changed = {n: (v, dev.get(n, ("missing",))[0]) for n, (v, _) in runtime.items()
               if dev.get(n, ("missing",))[0] != v}
    assert not changed


def test_install_requires_are_satisfied_by_the_lock():
    runtime = pins(ROOT / "requirements/lock.txt")
    for requirement in install_requires():
        version, _ = runtime[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(version), (requirement, version)
    names = {canonicalize_name(r.name) for r in install_requires()}
    assert "aioboto3" not in names and "aioboto3" not in runtime
    assert {"aiobotocore", "botocore", "redis", "opentelemetry-propagator-aws-xray"} <= names
    dev = pins(ROOT / "requirements/dev-lock.txt")
    assert {"anthropic", "openai-agents", "openai", "langchain-openai", "pytest"} <= set(dev)


def test_build_backend_pin_matches_pyproject():
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    dev = pins(ROOT / "requirements/dev-lock.txt")
    for requirement in map(Requirement, build):
        version, _ = dev[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(version), (requirement, version)


def test_one_version_string():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    assert config["metadata"]["version"] == "attr: bedrock_gateway.__version__"
    assert re.fullmatch(r"\d+\.\d+\.\d+", bedrock_gateway.__version__)
