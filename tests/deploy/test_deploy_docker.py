"""The image and the local stack: docker/Dockerfile (hadolint, the install and entrypoint the
brief fixes, non-root, signals), .dockerignore, and docker/compose.yaml with its files."""

from __future__ import annotations

import json
import re

import yaml
from deploy_support import COMPOSE, DOCKERFILE, ROOT, run, tool


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        out.append((keyword.upper(), " ".join(rest.split())))
    return out


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for keyword, args in _instructions():
        if keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword, args))
    return stages


def test_hadolint_has_no_findings():
    hadolint = tool("hadolint", ROOT / ".venv/bin/hadolint")
    result = run([hadolint, "--failure-threshold", "info", "--no-color", str(DOCKERFILE)])
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_install_commands_and_entrypoint():
    text = DOCKERFILE.read_text()
    # The lock is installed as a hashed resolver output (no --no-deps override), the package on
    # top without resolving again, and the result must pass pip check in the build.
    assert "pip install --require-hashes -r requirements/lock.txt" in text
    assert "--no-deps -r" not in text
    runs = [args for keyword, args in _instructions() if keyword == "RUN"]
    assert any(re.search(r"pip install --no-deps \. && pip check", args) for args in runs)
    entrypoints = [json.loads(args) for keyword, args in _instructions()
                   if keyword == "ENTRYPOINT"]
    assert entrypoints == [["python", "-m", "bedrock_gateway"]], "exec form, the gateway"
    assert " ".join(entrypoints[0]) == "python -m bedrock_gateway"


def test_dependencies_are_a_cached_layer():
    """The lock is copied and installed before any source, so code edits reuse that layer."""
    build = _stages()[0]
    steps = [f"{k} {a}" for k, a in build]
    lock_copy = next(i for i, s in enumerate(steps) if s.startswith("COPY requirements/lock.txt"))
    lock_install = next(i for i, s in enumerate(steps)
                        if "pip install --require-hashes -r requirements/lock.txt" in s)
    source_copy = next(i for i, s in enumerate(steps) if "bedrock_gateway" in s
                       and s.startswith("COPY"))
    assert lock_copy < lock_install < source_copy


def test_runtime_stage():
    stages = _stages()
    assert len(stages) >= 2, "multi-stage"
    froms = [args for stage in stages for k, args in stage if k == "FROM"]
    base = re.search(r"ARG PYTHON_IMAGE=(\S+)", DOCKERFILE.read_text()).group(1)
    # Pinned by tag and by digest (the multi-arch index), refreshed as the comment above it says.
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?@sha256:[0-9a-f]{64}", base), base
    assert "imagetools inspect" in DOCKERFILE.read_text()
    assert all(f.startswith("${PYTHON_IMAGE}") for f in froms)
    runtime: dict[str, list[str]] = {}
    for keyword, args in stages[-1]:
        runtime.setdefault(keyword, []).append(args)
    assert runtime["USER"] == ["10001:10001"]
    assert runtime["STOPSIGNAL"] == ["SIGTERM"]
    assert sorted(" ".join(runtime["EXPOSE"]).split()) == ["8000", "9464"]
    env = " ".join(runtime["ENV"])
    for setting in ("PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1", "HOME=/tmp"):
        assert setting in env
    assert any(a.startswith("--from=build /opt/venv") for a in runtime["COPY"])
    assert not any("requirements" in a or "bedrock_gateway" in a for a in runtime["COPY"]), (
        "the runtime stage gets the built virtualenv only")
    assert re.search(r"--uid \"?\$\{APP_UID\}\"?", " ".join(runtime["RUN"]))
    assert "APP_UID=10001" in " ".join(runtime["ARG"])


def test_dockerignore_keeps_what_the_build_copies():
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines[0] == "*", "allow-list"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    for keyword, args in _instructions():
        if keyword != "COPY" or args.startswith("--from"):
            continue
        for source in args.split()[:-1]:
            top = source.split("/")[0].replace("m[d]", "md")
            assert top in allowed, f"COPY {source} is excluded by .dockerignore"


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_references_existing_files():
    compose = _compose()
    services = compose["services"]
    assert {"gateway", "emulator", "prometheus", "grafana"} <= set(services)
    base = COMPOSE.parent
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (base / source).exists(), f"{name}: {source} does not exist"
        build = service.get("build")
        if build:
            context = base / build["context"]
            assert (context / build["dockerfile"]).resolve() == DOCKERFILE.resolve()
    for secret in compose.get("secrets", {}).values():
        assert (base / secret["file"]).exists()


def test_compose_wiring():
    services = _compose()["services"]
    gateway = services["gateway"]
    env = gateway["environment"]
    emulator_entry = " ".join(services["emulator"]["entrypoint"])
    assert emulator_entry.startswith("python -m bedrock_gateway.emulator")
    port = re.search(r"--port (\d+)", emulator_entry).group(1)
    assert env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] == f"http://emulator:{port}"
    assert env["AWS_ENDPOINT_URL_BEDROCK"] == f"http://emulator:{port}"
    assert gateway["read_only"] is True and gateway["user"].startswith("10001")
    # Prometheus gets the project's config and rules, and scrapes the gateway's metrics port.
    prometheus = yaml.safe_load((ROOT / "config/prometheus/prometheus.yml").read_text())
    (job,) = prometheus["scrape_configs"]
    assert job["job_name"] == "bedrock-gateway"
    assert job["static_configs"][0]["targets"] == ["gateway:9464"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in services["prometheus"]["volumes"]}
    assert mounts["/etc/prometheus/prometheus.yml"] == "../config/prometheus/prometheus.yml"
    assert mounts["/etc/prometheus/rules"] == "../config/prometheus/rules"
    # Grafana's dashboard provider reads the directory the dashboard is mounted at.
    grafana = {v.split(":")[1]: v.split(":")[0] for v in services["grafana"]["volumes"]}
    provider = yaml.safe_load(
        (COMPOSE.parent / "grafana-provisioning/dashboards/bedrock-gateway.yaml").read_text())
    path = provider["providers"][0]["options"]["path"]
    assert grafana[path] == "../config/grafana"
    datasources = yaml.safe_load(
        (COMPOSE.parent / "grafana-provisioning/datasources/prometheus.yaml").read_text())
    assert datasources["datasources"][0]["url"] == "http://prometheus:9090"


def _readme_docker_runs() -> list[list[str]]:
    """The `docker run` commands of the README, as argument lists (continuations joined)."""
    import shlex

    text = (ROOT / "README.md").read_text().replace("\\\n", " ")
    runs = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("docker run "):
            runs.append(shlex.split(line.replace('"$(id -u):$(id -g)"', "1000:1000")
                                    .replace('"$HOME/.aws', '"/home/me/.aws')))
    return runs


def test_docker_run_recipe_matches_the_image():
    """Correct by construction: the README's credentials mount lands in the image's HOME, read
    only, with a --user that can read a 0600 file; the port is the image's PORT."""
    runs = _readme_docker_runs()
    assert len(runs) >= 2, "a mount recipe and an environment recipe"
    runtime: dict[str, list[str]] = {}
    for keyword, args in _stages()[-1]:
        runtime.setdefault(keyword, []).append(args)
    env = dict(item.split("=", 1) for item in " ".join(runtime["ENV"]).split() if "=" in item)
    home, port = env["HOME"], env["PORT"]
    mounted = 0
    for args in runs:
        assert args[-1] == "bedrock-gateway:dev"
        assert f"{port}:{port}" in args
        assert any(a.startswith("API_KEY=") for a in args), "the gateway needs a key"
        volumes = [args[i + 1] for i, a in enumerate(args) if a == "-v"]
        for volume in volumes:
            source, target, *mode = volume.split(":")
            if source.endswith("/.aws"):
                mounted += 1
                assert target == f"{home}/.aws", f"botocore reads $HOME/.aws; HOME is {home}"
                assert mode == ["ro"]
                assert "--user" in args, "UID 10001 cannot read a 0600 file owned by you"
        if not volumes:
            names = {args[i + 1].split("=")[0] for i, a in enumerate(args) if a == "-e"}
            assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} <= names
    assert mounted == 1
    assert "/root/.aws" not in " ".join(" ".join(a) for a in runs)
