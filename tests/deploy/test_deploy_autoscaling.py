"""The autoscaling signal: the HPA's Pods metric, the prometheus-adapter rule that serves it,
config/prometheus/hpa-query.promql, the KEDA trigger and docs/metrics.md name one metric and
one query."""

from __future__ import annotations

import re

import yaml
from deploy_support import (
    ADAPTER_RULES,
    HPA_QUERY,
    METRICS_DOC,
    documented_metrics,
    gateway_env,
    one,
    render,
)


def _hpa() -> dict:
    return one(render("eks"), "HorizontalPodAutoscaler", "bedrock-gateway")


def _pods_metric(hpa: dict) -> dict:
    (metric,) = [m["pods"] for m in hpa["spec"]["metrics"] if m["type"] == "Pods"]
    return metric


def _adapter_rule() -> dict:
    (config_map,) = [d for d in yaml.safe_load_all(ADAPTER_RULES.read_text()) if d]
    (rule,) = yaml.safe_load(config_map["data"]["config.yaml"])["rules"]
    return rule


def _series_query_parts(rule: dict) -> tuple[str, str]:
    match = re.fullmatch(r"([A-Za-z_:][\w:]*)\{(.*)\}", rule["seriesQuery"].strip())
    assert match, rule["seriesQuery"]
    return match.group(1), match.group(2)


def test_hpa_metric_adapter_series_and_docs_agree():
    name = _pods_metric(_hpa())["metric"]["name"]
    rule = _adapter_rule()
    series, matchers = _series_query_parts(rule)
    assert series == name
    assert re.fullmatch(rule["name"]["matches"], series)
    exposed = re.sub(rule["name"]["matches"], rule["name"].get("as") or "$1", series)
    assert exposed.replace("$1", series) == name, "the adapter exposes another name"
    assert name in documented_metrics(), f"{name} is not in docs/metrics.md"
    assert documented_metrics()[name][0] == "gauge"
    doc_row = next(line for line in METRICS_DOC.read_text().splitlines() if f"`{name}`" in line)
    assert "HPA" in doc_row, "docs/metrics.md should say this is the HPA's signal"
    # The adapter associates series with pods through the namespace and pod labels.
    overrides = rule["resources"]["overrides"]
    assert overrides["namespace"]["resource"] == "namespace"
    assert overrides["pod"]["resource"] == "pod"
    assert 'namespace!=""' in matchers and 'pod!=""' in matchers


def test_adapter_query_expands_to_the_hpa_query_file():
    """<<.Series>>, <<.LabelMatchers>>, <<.GroupBy>> filled as the adapter fills them for the
    gateway's pods give config/prometheus/hpa-query.promql."""
    rule = _adapter_rule()
    series, _ = _series_query_parts(rule)
    namespace = one(render("eks"), "Deployment", "bedrock-gateway")["metadata"]["namespace"]
    expanded = (rule["metricsQuery"]
                .replace("<<.Series>>", series)
                .replace("<<.LabelMatchers>>",
                         f'namespace="{namespace}",pod=~"bedrock-gateway-.*"')
                .replace("<<.GroupBy>>", "pod"))
    assert expanded == HPA_QUERY.read_text().strip()
    assert rule["metricsQuery"] == "sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)"


def test_keda_query_is_the_hpa_query_summed():
    hpa_query = HPA_QUERY.read_text().strip()
    scaled = one(render("keda"), "ScaledObject")
    trigger = next(t for t in scaled["spec"]["triggers"] if t["type"] == "prometheus")
    inner = re.fullmatch(r"sum\((.*)\) by \(pod\)", hpa_query).group(1)
    assert trigger["metadata"]["query"] == f"sum({inner})"
    assert trigger["metricType"] == "AverageValue"
    assert float(trigger["metadata"]["threshold"]) == float(
        _pods_metric(_hpa())["target"]["averageValue"])


def test_hpa_targets_and_behavior():
    hpa = _hpa()
    spec = hpa["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                      "name": "bedrock-gateway"}
    assert spec["minReplicas"] >= 2 and spec["maxReplicas"] > spec["minReplicas"]
    target = _pods_metric(hpa)["target"]
    assert target["type"] == "AverageValue"
    capacity = int(gateway_env(render("eks"))["MAX_CONCURRENT_REQUESTS"])
    assert 0 < float(target["averageValue"]) < capacity * 0.5, "leave headroom for bursts"
    (cpu,) = [m["resource"] for m in spec["metrics"] if m["type"] == "Resource"]
    assert cpu["name"] == "cpu" and cpu["target"]["type"] == "Utilization"
    up, down = spec["behavior"]["scaleUp"], spec["behavior"]["scaleDown"]
    assert up["stabilizationWindowSeconds"] <= 15
    assert {(p["type"], p["value"], p["periodSeconds"]) for p in up["policies"]} == {
        ("Percent", 100, 15), ("Pods", 4, 15)}
    assert up["selectPolicy"] == "Max"
    assert down["stabilizationWindowSeconds"] == 300
    assert [(p["type"], p["value"], p["periodSeconds"]) for p in down["policies"]] == [
        ("Percent", 10, 60)]
