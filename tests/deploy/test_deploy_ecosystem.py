"""Deploy assets as platform teams install them (rendered with `kubectl kustomize`, validated
strictly in test_deploy_manifests.py for every overlay, eks-long-streams included): the egress
NetworkPolicy, the ALB's least_outstanding_requests, the long-streams component, the dashboard
ConfigMap for the Grafana sidecar, the aliases ConfigMap, prometheus-adapter Helm values and the
KEDA SigV4 TriggerAuthentication example."""

from __future__ import annotations

import json

import kubernetes_validate
import pytest
import yaml
from crd_schemas import SCHEMAS
from deploy_support import (
    ADAPTER_RULES,
    DASHBOARD,
    K8S,
    OVERLAYS,
    ROOT,
    one,
    render,
)
from jsonschema import validate

from bedrock_gateway.bedrock.catalog import load_aliases

ALL = ("base", *OVERLAYS)


def _deployment(objects: list[dict]) -> dict:
    return one(objects, "Deployment", "bedrock-gateway")


def _env(objects: list[dict]) -> dict[str, str]:
    return next(o for o in objects if o["kind"] == "ConfigMap"
                and o["metadata"]["name"].startswith("bedrock-gateway-config"))["data"]


@pytest.mark.parametrize("overlay", ALL)
def test_egress_policy(overlay):
    policy = one(render(overlay), "NetworkPolicy", "bedrock-gateway-egress")
    kubernetes_validate.validate(policy, "1.31.0", strict=True)
    assert policy["spec"]["policyTypes"] == ["Egress"]
    rules = policy["spec"]["egress"]
    by_port = {}
    for rule in rules:
        for port in rule["ports"]:
            by_port.setdefault((port["protocol"], port["port"]), []).extend(rule["to"])
    # DNS to the cluster resolver only.
    for proto in ("UDP", "TCP"):
        (dns,) = by_port[(proto, 53)]
        assert dns["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}
    # 443 anywhere except the instance metadata endpoint (v4 and v6).
    https = {peer["ipBlock"]["cidr"]: peer["ipBlock"].get("except", [])
             for peer in by_port[("TCP", 443)]}
    assert https == {"0.0.0.0/0": ["169.254.169.254/32"], "::/0": ["fd00:ec2::254/128"]}
    # Pod Identity agent allowed on its port; the metadata endpoint on no port at all.
    agent = {peer["ipBlock"]["cidr"] for peer in by_port[("TCP", 80)]}
    assert agent == {"169.254.170.23/32", "fd00:ec2::23/128"}
    for peers in by_port.values():
        for peer in peers:
            assert peer.get("ipBlock", {}).get("cidr") not in ("169.254.169.254/32",)
    extra = set(by_port) - {("UDP", 53), ("TCP", 53), ("TCP", 443), ("TCP", 80)}
    # Redis (REDIS_URL): the in-cluster Redis locally, ElastiCache in the VPC CIDR on EKS.
    if overlay == "base":  # no Redis in the base: nothing beyond DNS, HTTPS and the agent
        assert not extra
        return
    (redis,) = by_port[("TCP", 6379)]
    if overlay == "local":  # the in-cluster emulator and Redis
        assert extra == {("TCP", 4010), ("TCP", 6379)}
        env = _env(render(overlay))
        assert env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"].endswith(":4010")
        assert redis["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "bedrock-redis"}
    else:
        assert extra == {("TCP", 6379)}
        assert redis["ipBlock"]["cidr"] == "10.0.0.0/16"


@pytest.mark.parametrize("overlay", ("eks", "keda", "eks-long-streams"))
def test_alb_balances_on_outstanding_requests(overlay):
    ingress = one(render(overlay), "Ingress", "bedrock-gateway")
    attributes = dict(item.split("=", 1) for item in ingress["metadata"]["annotations"][
        "alb.ingress.kubernetes.io/target-group-attributes"].split(","))
    assert attributes["load_balancing.algorithm.type"] == "least_outstanding_requests"


def _shutdown(objects: list[dict]) -> tuple[float, float, float]:
    env = _env(objects)
    pod = _deployment(objects)["spec"]["template"]["spec"]
    ingress = [o for o in objects if o["kind"] == "Ingress"]
    delay = None
    if ingress:
        attributes = dict(item.split("=", 1) for item in ingress[0]["metadata"]["annotations"][
            "alb.ingress.kubernetes.io/target-group-attributes"].split(","))
        delay = float(attributes["deregistration_delay.timeout_seconds"])
    return float(env["SHUTDOWN_GRACE_SECONDS"]), pod["terminationGracePeriodSeconds"], delay


def test_long_streams_component_raises_the_three_together():
    grace, termination, delay = _shutdown(render("eks-long-streams"))
    assert grace == 900 and delay == 900
    drain = float(_env(render("eks-long-streams"))["DRAIN_DELAY_SECONDS"])
    assert termination > drain + drain + grace  # preStop + drain + grace, then SIGKILL
    base_grace, base_termination, base_delay = _shutdown(render("eks"))
    assert (base_grace, base_termination, base_delay) == (30, 45, 45)
    # The component changes nothing else of the eks overlay.
    long_objects = {(o["kind"], o["metadata"]["name"].rsplit("-", 1)[0]
                     if o["kind"] == "ConfigMap" else o["metadata"]["name"])
                    for o in render("eks-long-streams")}
    eks_objects = {(o["kind"], o["metadata"]["name"].rsplit("-", 1)[0]
                    if o["kind"] == "ConfigMap" else o["metadata"]["name"])
                   for o in render("eks")}
    assert long_objects == eks_objects
    doc = (ROOT / "docs/deploy.md").read_text()
    assert "k8s/components/long-streams" in doc and "trade-off" in doc.lower()


@pytest.mark.parametrize("overlay", ALL)
def test_dashboard_configmap_for_the_grafana_sidecar(overlay):
    config_map = one(render(overlay), "ConfigMap", "bedrock-gateway-dashboard")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    (name, text), = config_map["data"].items()
    assert name.endswith(".json")
    assert json.loads(text) == json.loads(DASHBOARD.read_text()), "make k8s-rules"
    assert len(text.encode()) < 900_000  # far below the 1 MiB object limit


@pytest.mark.parametrize("overlay", ALL)
def test_aliases_file_is_mounted_where_the_setting_points(overlay, tmp_path):
    objects = render(overlay)
    path = _env(objects)["MODEL_ALIASES_FILE"]
    pod = _deployment(objects)["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    (container,) = [c for c in pod["containers"] if c["name"] == "gateway"] or pod["containers"][:1]
    mounts = [m for m in container["volumeMounts"] if path.startswith(m["mountPath"] + "/")]
    assert len(mounts) == 1, path
    volume = volumes[mounts[0]["name"]]
    key = path.removeprefix(mounts[0]["mountPath"] + "/")
    config_map = one(objects, "ConfigMap", volume["configMap"]["name"])
    copy = tmp_path / key
    copy.write_text(config_map["data"][key])
    assert load_aliases(str(copy))  # what the gateway will read at start


def test_prometheus_adapter_helm_values_match_the_raw_rules():
    values = yaml.safe_load((K8S / "prometheus-adapter/values.yaml").read_text())
    (config_map,) = [d for d in yaml.safe_load_all(ADAPTER_RULES.read_text()) if d]
    raw = yaml.safe_load(config_map["data"]["config.yaml"])["rules"]
    assert values["rules"]["custom"] == raw
    assert values["prometheus"]["url"].startswith("http")
    assert isinstance(values["prometheus"]["port"], int)


def test_keda_sigv4_trigger_authentication_example():
    (auth,) = [d for d in yaml.safe_load_all(
        (K8S / "overlays/keda/triggerauthentication-amp.yaml").read_text()) if d]
    validate(auth, SCHEMAS[("keda.sh/v1alpha1", "TriggerAuthentication")])
    assert auth["spec"]["podIdentity"]["provider"] == "aws"
    scaled = one(render("keda"), "ScaledObject", "bedrock-gateway")
    # The example's instructions produce a valid ScaledObject for AMP.
    trigger = next(t for t in scaled["spec"]["triggers"] if t["type"] == "prometheus")
    trigger["metadata"].update(
        serverAddress="https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-0123",
        awsRegion="us-east-1")
    trigger["authenticationRef"] = {"name": auth["metadata"]["name"]}
    validate(scaled, SCHEMAS[("keda.sh/v1alpha1", "ScaledObject")])
    doc = (ROOT / "docs/deploy.md").read_text()
    assert "triggerauthentication-amp.yaml" in doc and "aps:QueryMetrics" in doc
