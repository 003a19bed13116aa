"""Prometheus rules, their unit tests, the PrometheusRule generated from them, the Grafana
dashboard, and the metric names all of them use (only those of docs/metrics.md)."""

from __future__ import annotations

import importlib.util
import json
import re
import textwrap

import pytest
import yaml
from deploy_support import (
    DASHBOARD,
    DEPLOY_DOC,
    HPA_QUERY,
    K8S,
    METRICS_DOC,
    PROMETHEUS_YML,
    ROOT,
    RULE_TESTS,
    RULES,
    TARGET_LABELS,
    alerts,
    all_rules,
    documented_metrics,
    load_rules,
    metric_names,
    one,
    render,
    run,
    selector_labels,
    series_names,
    substitute_grafana_variables,
    tool,
)


def promtool() -> str:
    return tool("promtool")


# ------------------------------------------------------------------------------- promtool
def test_promtool_check_rules():
    result = run([promtool(), "check", "rules", str(RULES)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_check_config():
    result = run([promtool(), "check", "config", str(PROMETHEUS_YML)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass():
    files = sorted(RULE_TESTS.glob("*.yml"))
    assert files
    result = run([promtool(), "test", "rules", *map(str, files)])
    assert result.returncode == 0, result.stdout + result.stderr


def _alert_cases() -> dict[str, dict[str, int]]:
    """alertname -> {"fires": n, "quiet": n} over every promtool test file."""
    cases: dict[str, dict[str, int]] = {}
    for path in RULE_TESTS.glob("*.yml"):
        document = yaml.safe_load(path.read_text())
        for group in document["tests"]:
            for case in group.get("alert_rule_test", []):
                kind = "fires" if case.get("exp_alerts") else "quiet"
                counts = cases.setdefault(case["alertname"], {"fires": 0, "quiet": 0})
                counts[kind] += 1
    return cases


def test_every_alert_has_a_firing_and_a_quiet_case():
    cases = _alert_cases()
    for alert in alerts():
        name = alert["alert"]
        counts = cases.get(name, {"fires": 0, "quiet": 0})
        assert counts["fires"] >= 1, f"no promtool case fires {name}"
        assert counts["quiet"] >= 1, f"no promtool case shows {name} quiet"
    unknown = set(cases) - {a["alert"] for a in alerts()}
    assert not unknown, f"tests for alerts that do not exist: {unknown}"


def test_rule_tests_load_the_single_source():
    for path in RULE_TESTS.glob("*.yml"):
        document = yaml.safe_load(path.read_text())
        loaded = {(path.parent / f).resolve() for f in document["rule_files"]}
        assert loaded == {RULES.resolve()}, f"{path.name} must test {RULES.name} itself"


# ------------------------------------------------------------------------------- rule shape
def _slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def runbook_base() -> str:
    match = re.search(r"^RUNBOOK_BASE_URL \?= (\S+)$", (ROOT / "Makefile").read_text(),
                      re.MULTILINE)
    assert match, "RUNBOOK_BASE_URL is set once, in the Makefile"
    base = match.group(1)
    assert re.fullmatch(r"https://\S+/docs/deploy\.md", base), base
    return base


def test_runbook_links_in_rule_tests_use_the_same_base():
    text = RULE_TESTS.read_text() if RULE_TESTS.is_file() else "".join(
        p.read_text() for p in RULE_TESTS.glob("*.yml"))
    links = re.findall(r"runbook_url: (\S+)", text)
    assert links and all(link.startswith(runbook_base() + "#") for link in links)


def test_runbook_base_is_configurable(tmp_path):
    """--runbook-base rewrites every link to the new base and keeps the anchors."""
    generator = _generator()
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES.read_text())
    generator.set_runbook_base("https://wiki.example.com/runbooks/bedrock", (rules,))
    before = [a["annotations"]["runbook_url"] for a in alerts()]
    after = [rule["annotations"]["runbook_url"]
             for group in yaml.safe_load(rules.read_text())["groups"]
             for rule in group["rules"] if "alert" in rule]
    assert [a.partition("#")[2] for a in after] == [b.partition("#")[2] for b in before]
    assert all(a.startswith("https://wiki.example.com/runbooks/bedrock#") for a in after)


def test_alerts_are_labelled_and_documented():
    anchors = {_slug(line.lstrip("#")) for line in DEPLOY_DOC.read_text().splitlines()
               if line.startswith("#")}
    names = [a["alert"] for a in alerts()]
    assert len(names) == len(set(names))
    for alert in alerts():
        assert alert["labels"]["severity"] in ("critical", "warning", "info"), alert["alert"]
        notes = alert["annotations"]
        assert notes["summary"] and notes["description"], alert["alert"]
        # Absolute (Alertmanager, PagerDuty and Slack cannot follow a relative path), all from
        # the one base in the Makefile, and pointing at a section of docs/deploy.md.
        link = notes["runbook_url"]
        base, _, anchor = link.partition("#")
        assert base == runbook_base(), alert["alert"]
        assert anchor in anchors, f"docs/deploy.md has no section {link}"


def test_the_required_alerts_exist():
    """The incumbent's CloudWatch alarms and the rest of the brief, by what they select."""
    exprs = {a["alert"]: a["expr"] for a in alerts()}
    recorded = {r["record"]: r["expr"] for r in all_rules() if "record" in r}

    def uses(alert_expr: str, needle: str) -> bool:
        text = alert_expr + "".join(e for n, e in recorded.items() if n in alert_expr)
        return needle in text

    wanted = {
        "5xx ratio": 'status_class="5xx"',
        "429 ratio": "throttled|quota_exceeded",
        "admission rejections": "bedrock_gateway_admission_rejections_total",
        "TTFT p95": "bedrock_gateway_time_to_first_token_seconds_bucket",
        "stream capacity": "bedrock_gateway_stream_capacity",
        "pool saturation": "bedrock_gateway_pool_capacity",
        "throttling by region": 'error_code="throttled"',
        "breaker open": "bedrock_gateway_circuit_breaker_state",
        "failovers": "bedrock_gateway_failovers_total",
        "targets down": 'up{job="bedrock-gateway"} == 0',
        "no targets": 'absent(up{job="bedrock-gateway"}',
        "catalog stale": "bedrock_gateway_catalog_age_seconds",
    }
    for what, needle in wanted.items():
        assert any(uses(expr, needle) for expr in exprs.values()), f"no alert on {what}"


def test_recording_rules_follow_the_naming_convention():
    for rule in all_rules():
        if "record" in rule:
            level, _metric, operations = rule["record"].split(":")
            assert level and operations, rule["record"]


# ------------------------------------------------------------------------------- PrometheusRule
def _generator():
    path = K8S / "tools/render_prometheusrule.py"
    spec = importlib.util.spec_from_file_location("render_prometheusrule", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_prometheus_rule_equals_the_source():
    rule = one(render("base"), "PrometheusRule")
    assert rule["spec"]["groups"] == load_rules()["groups"], (
        "k8s/base/prometheusrule.yaml differs from the rules file: run `make k8s-rules`")


def test_prometheus_rule_file_is_what_the_generator_writes():
    generator = _generator()
    assert generator.TARGET.read_text() == generator.render(), (
        "k8s/base/prometheusrule.yaml is stale: run `make k8s-rules`")


# ------------------------------------------------------------------------------- metric names
def _dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def _dashboard_exprs() -> list[str]:
    exprs = []

    def walk(panels):
        for panel in panels:
            exprs.extend(t["expr"] for t in panel.get("targets", []) if t.get("expr"))
            walk(panel.get("panels", []))

    walk(_dashboard()["panels"])
    return exprs


def _variable_metrics() -> list[str]:
    """Metrics named by the dashboard's label_values(...) variable queries."""
    names = []
    for variable in _dashboard()["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]["query"] if isinstance(variable["query"], dict) \
            else variable["query"]
        match = re.fullmatch(r"label_values\(\s*([A-Za-z_:][\w:]*)\s*(\{[^}]*\})?\s*,\s*\w+\)",
                             query.strip())
        assert match, f"unexpected variable query {query!r}"
        names.append(match.group(1))
    return names


def test_dashboard_uses_only_documented_metrics():
    allowed = set(series_names()) | {"up"}
    exprs = _dashboard_exprs()
    assert len(exprs) >= 20
    used = set(_variable_metrics())
    for expr in exprs:
        names = metric_names(expr)
        assert names, f"no metric found in {expr!r}"
        used |= names
    unknown = used - allowed
    assert not unknown, f"dashboard metrics not in docs/metrics.md: {sorted(unknown)}"


def test_dashboard_covers_the_brief():
    text = " ".join(_dashboard_exprs())
    for needle in ("bedrock_gateway_requests_total", "time_to_first_token_seconds_bucket",
                   "request_duration_seconds_bucket", "bedrock_gateway_tokens_total",
                   "bedrock_gateway_inflight_streams", "bedrock_gateway_bedrock_errors_total",
                   'error_code="throttled"', "bedrock_gateway_failovers_total",
                   "bedrock_gateway_pool_in_use", "bedrock_gateway_pool_capacity",
                   "bedrock_gateway_circuit_breaker_state"):
        assert needle in text, f"the dashboard shows nothing of {needle}"


def test_rules_use_only_documented_metrics():
    recorded = {r["record"] for r in all_rules() if "record" in r}
    allowed = set(series_names()) | {"up"} | recorded
    for rule in all_rules():
        unknown = metric_names(rule["expr"]) - allowed
        assert not unknown, f"{rule.get('record') or rule.get('alert')}: {sorted(unknown)}"


def _error_codes() -> set[str]:
    from bedrock_gateway import errors

    codes = {"none"}
    for value in vars(errors).values():
        if isinstance(value, type) and issubclass(value, errors.GatewayError) and value.code:
            codes.add(value.code)
    for code in sorted(errors.BEDROCK_ERRORS):
        code_name = errors.from_bedrock_code(code, None).code
        assert code_name is not None, code
        codes.add(code_name)
    return codes


def _documented_values(label: str) -> set[str]:
    """Values listed in docs/metrics.md for a label, e.g. `reason` (`process_limit`, ...)."""
    text = METRICS_DOC.read_text()
    values = set()
    for match in re.finditer(rf"`{label}` \(([^)]*)\)", text):
        values |= set(re.findall(r"`([^`]+)`", match.group(1)))
    return values


@pytest.mark.parametrize("source", ["rules", "dashboard"])
def test_selectors_use_documented_labels_and_values(source):
    exprs = ([r["expr"] for r in all_rules()] if source == "rules" else _dashboard_exprs())
    names = series_names()
    docs = documented_metrics()
    codes = _error_codes()
    values = {"error_code": codes, "status_class": {"2xx", "4xx", "5xx"},
              "reason": _documented_values("reason"), "outcome": _documented_values("outcome"),
              "kind": _documented_values("kind")}
    assert all(values.values())
    for expr in exprs:
        for metric, label in selector_labels(expr):
            if metric not in names:
                continue
            base = names[metric]
            labels = docs[base][1] | TARGET_LABELS | ({"le"} if metric.endswith("_bucket")
                                                       else set())
            assert label in labels, f"{metric} has no label {label!r} ({expr})"
        for label, allowed in values.items():
            for raw in re.findall(rf'\b{label}\s*(?:=~|=|!=)\s*"([^"$]*)"', expr):
                for value in raw.split("|"):
                    assert value in allowed, f"{label}={value!r} is not a documented value"


def _promql_syntax_errors(exprs: dict[str, str], tmp_path) -> str:
    """promtool's verdict on expressions, wrapped as recording rules."""
    rules = {"groups": [{"name": "syntax", "rules": [
        {"record": f"check:expr:{i}", "expr": expr} for i, expr in enumerate(exprs.values())]}]}
    path = tmp_path / "syntax.rules.yml"
    path.write_text(yaml.safe_dump(rules))
    result = run([promtool(), "check", "rules", str(path)])
    return "" if result.returncode == 0 else result.stdout + result.stderr


def test_dashboard_queries_parse(tmp_path):
    exprs = {f"panel {i}": substitute_grafana_variables(e)
             for i, e in enumerate(_dashboard_exprs())}
    assert not _promql_syntax_errors(exprs, tmp_path)


def test_dashboard_is_well_formed():
    dashboard = _dashboard()
    assert dashboard["uid"] == "bedrock-gateway"
    ids = []

    def walk(panels):
        for panel in panels:
            ids.append(panel["id"])
            assert {"x", "y", "w", "h"} <= set(panel["gridPos"])
            for target in panel.get("targets", []):
                assert target["datasource"]["uid"] == "${datasource}"
            walk(panel.get("panels", []))

    walk(dashboard["panels"])
    assert len(ids) == len(set(ids)), "panel ids must be unique"


# ------------------------------------------------------------------------------- the HPA query
def _keda_query() -> str:
    scaled = one(render("keda"), "ScaledObject")
    trigger = next(t for t in scaled["spec"]["triggers"] if t["type"] == "prometheus")
    return trigger["metadata"]["query"]


def test_hpa_and_keda_queries_evaluate_as_intended(tmp_path):
    """Run the exact PromQL of hpa-query.promql and of the KEDA trigger in promtool's engine:
    per pod of the gateway's namespace for the adapter, their sum for KEDA."""
    hpa_query = HPA_QUERY.read_text().strip()
    keda_query = _keda_query()
    document = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [
                {"series": 'bedrock_gateway_inflight_streams{namespace="bedrock-gateway", '
                           'pod="bedrock-gateway-5d9f7c6b8-abcde", instance="a:9464"}',
                 "values": "150x5"},
                {"series": 'bedrock_gateway_inflight_streams{namespace="bedrock-gateway", '
                           'pod="bedrock-gateway-5d9f7c6b8-fghij", instance="b:9464"}',
                 "values": "250x5"},
                {"series": 'bedrock_gateway_inflight_streams{namespace="other-team", '
                           'pod="bedrock-gateway-7f8d9c-zzzzz", instance="c:9464"}',
                 "values": "999x5"},
            ],
            "promql_expr_test": [
                {"expr": hpa_query, "eval_time": "3m", "exp_samples": [
                    {"labels": '{pod="bedrock-gateway-5d9f7c6b8-abcde"}', "value": 150},
                    {"labels": '{pod="bedrock-gateway-5d9f7c6b8-fghij"}', "value": 250}]},
                {"expr": keda_query, "eval_time": "3m", "exp_samples": [
                    {"labels": "{}", "value": 400}]},
            ],
        }],
    }
    path = tmp_path / "hpa.test.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    result = run([promtool(), "test", "rules", str(path)])
    assert result.returncode == 0, textwrap.indent(result.stdout + result.stderr, "  ")
