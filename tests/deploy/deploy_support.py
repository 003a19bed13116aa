"""Helpers for the deployment tests: paths, external tools, rendered overlays, docs/metrics.md,
and a small PromQL reader that finds the metric names an expression uses."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
OVERLAYS = ("eks", "local", "keda", "eks-long-streams")
RULES = ROOT / "config/prometheus/rules/bedrock-gateway.rules.yml"
RULE_TESTS = ROOT / "config/prometheus/tests"
PROMETHEUS_YML = ROOT / "config/prometheus/prometheus.yml"
HPA_QUERY = ROOT / "config/prometheus/hpa-query.promql"
DASHBOARD = ROOT / "config/grafana/bedrock-gateway.json"
METRICS_DOC = ROOT / "docs/metrics.md"
DEPLOY_DOC = ROOT / "docs/deploy.md"
DOCKERFILE = ROOT / "docker/Dockerfile"
COMPOSE = ROOT / "docker/compose.yaml"
ADAPTER_RULES = K8S / "base/prometheus-adapter-rules.yaml"
IAM_POLICY = K8S / "overlays/eks/iam-policy.json"

# Labels that scraping adds to every series (static config or the Prometheus Operator).
TARGET_LABELS = frozenset({"job", "instance", "namespace", "pod", "service", "endpoint",
                           "container"})


# ------------------------------------------------------------------------------- tools
def tool(name: str, *fallbacks: Path) -> str:
    """Path of an external tool. Missing: fail when CI is set (make installs it), else skip."""
    found = shutil.which(name)
    for candidate in fallbacks:
        if not found and candidate.exists():
            found = str(candidate)
    if found:
        return found
    message = (f"`{name}` is not installed: run `make tools` "
               "(scripts/install-tools.sh)")
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=False, capture_output=True, text=True, timeout=120,
                          cwd=ROOT, **kwargs)


# ------------------------------------------------------------------------------- kustomize
@functools.cache
def _render(directory: str) -> str:
    kubectl = tool("kubectl")
    result = run([kubectl, "kustomize", directory])
    assert result.returncode == 0, f"kubectl kustomize {directory} failed:\n{result.stderr}"
    return result.stdout


def render(overlay: str) -> list[dict]:
    """The objects `kubectl kustomize` renders for k8s/overlays/<overlay> (or k8s/base)."""
    directory = K8S / ("base" if overlay == "base" else f"overlays/{overlay}")
    return [doc for doc in yaml.safe_load_all(_render(str(directory))) if doc]


def find(objects: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [o for o in objects
            if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def one(objects: list[dict], kind: str, name: str | None = None) -> dict:
    found = find(objects, kind, name)
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def gateway_container(objects: list[dict]) -> dict:
    deployment = one(objects, "Deployment", "bedrock-gateway")
    return next(c for c in deployment["spec"]["template"]["spec"]["containers"]
                if c["name"] == "gateway")


def gateway_env(objects: list[dict]) -> dict[str, str]:
    """The gateway's environment: its ConfigMap's data, then the container's literal env."""
    container = gateway_container(objects)
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(one(objects, "ConfigMap", source["configMapRef"]["name"])["data"])
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
    return env


# ------------------------------------------------------------------------------- metrics.md
@functools.cache
def documented_metrics() -> dict[str, tuple[str, frozenset[str]]]:
    """name -> (type, label names), from the table in docs/metrics.md."""
    rows: dict[str, tuple[str, frozenset[str]]] = {}
    for line in METRICS_DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`bedrock_gateway_"):
            continue
        name = cells[0].strip("`")
        kind = cells[1].split()[0]
        # "`model`, `kind` (`input`, `output`, ...)": the names outside the parentheses.
        labels = frozenset(re.findall(r"`([a-z_]+)`", re.sub(r"\([^)]*\)", "", cells[2])))
        rows[name] = (kind, labels)
    assert rows, "no metric table found in docs/metrics.md"
    return rows


def series_names() -> dict[str, str]:
    """Every series name a query may select -> its documented metric (histogram suffixes)."""
    names: dict[str, str] = {}
    for name, (kind, _labels) in documented_metrics().items():
        names[name] = name
        if kind == "histogram":
            for suffix in ("_bucket", "_sum", "_count"):
                names[name + suffix] = name
    return names


# ------------------------------------------------------------------------------- PromQL
_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "by", "without", "on",
                       "ignoring", "group_left", "group_right", "inf", "nan", "atan2"})
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GRAFANA_VAR = re.compile(r"\$\{[^}]*\}|\$\w+")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w:.])([A-Za-z_:][\w:]*)")
_SELECTOR = re.compile(r"([A-Za-z_:][\w:]*)\s*\{([^}]*)\}")
_MATCHER = re.compile(r"\s*([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)\s*" + r'"(?:[^"\\]|\\.)*"')


def substitute_grafana_variables(expr: str) -> str:
    """A Grafana query as Prometheus would receive it (sample values for the variables)."""
    for name, value in (("$__rate_interval", "5m"), ("$__interval", "1m"), ("$__range", "3h"),
                        ("${datasource}", "prometheus")):
        expr = expr.replace(name, value)
    return _GRAFANA_VAR.sub(".*", expr)


def metric_names(expr: str) -> set[str]:
    """The metric (series) names an expression selects, functions and labels left out."""
    text = _GRAFANA_VAR.sub("", expr)
    text = re.sub(r"#[^\n]*", "", text)
    text = _STRING.sub('""', text)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = _GROUPING.sub(" ", text)
    names = set()
    for match in _IDENT.finditer(text):
        word = match.group(1)
        rest = text[match.end():].lstrip()
        if word.lower() in _KEYWORDS or rest.startswith("("):
            continue
        names.add(word)
    # A selector may also name its metric inside the braces: {__name__="..."}.
    names.update(re.findall(r'__name__\s*=\s*"([^"]+)"', expr))
    return names


def selector_labels(expr: str) -> list[tuple[str, str]]:
    """(metric, label) for every label matcher written in a selector of `expr`."""
    found = []
    for metric, body in _SELECTOR.findall(_GRAFANA_VAR.sub("x", expr)):
        for label in _MATCHER.findall(body):
            found.append((metric, label))
    return found


def load_rules() -> dict:
    return yaml.safe_load(RULES.read_text(encoding="utf-8"))


def all_rules() -> list[dict]:
    return [rule for group in load_rules()["groups"] for rule in group["rules"]]


def alerts() -> list[dict]:
    return [rule for rule in all_rules() if "alert" in rule]
