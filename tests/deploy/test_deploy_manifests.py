"""The Kubernetes manifests: every overlay renders, every object validates, and the settings
that must agree with each other (ports, drain timing, the key file, security) do."""

from __future__ import annotations

import copy
import re

import jsonschema
import kubernetes_validate
import pytest
import yaml
from crd_schemas import PROMETHEUS_TRIGGER_REQUIRED, SCHEMAS
from deploy_support import (
    ADAPTER_RULES,
    OVERLAYS,
    find,
    gateway_container,
    gateway_env,
    one,
    render,
)

K8S_VERSION = "1.31.0"
ALL = ("base", *OVERLAYS)


def _validate_builtin(obj: dict) -> None:
    kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


@pytest.mark.parametrize("overlay", ALL)
def test_overlay_renders(overlay):
    objects = render(overlay)
    assert objects, f"{overlay} rendered nothing"
    names = [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert len(names) == len(set(names)), f"duplicate objects in {overlay}: {names}"


@pytest.mark.parametrize("overlay", ALL)
def test_builtin_objects_validate_strictly(overlay):
    checked = 0
    for obj in render(overlay):
        if (obj["apiVersion"], obj["kind"]) in SCHEMAS:
            continue
        try:
            _validate_builtin(obj)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            pytest.fail(f"{overlay}: {obj['kind']}/{obj['metadata']['name']}: {path}: "
                        f"{exc.message}")
        except kubernetes_validate.SchemaNotFoundError:
            pytest.fail(f"{overlay}: {obj['apiVersion']} {obj['kind']} is neither a built-in "
                        "kind nor one of ours in crd_schemas.py")
        checked += 1
    assert checked


def test_strict_validation_catches_a_misspelt_field():
    """Guard for the test above: kubernetes-validate really rejects unknown fields."""
    deployment = copy.deepcopy(one(render("base"), "Deployment", "bedrock-gateway"))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate_builtin(deployment)


@pytest.mark.parametrize("overlay", ALL)
def test_custom_resources_match_their_schemas(overlay):
    for obj in render(overlay):
        schema = SCHEMAS.get((obj["apiVersion"], obj["kind"]))
        if schema is None:
            continue
        try:
            jsonschema.validate(obj, schema)
        except jsonschema.ValidationError as exc:
            path = ".".join(str(p) for p in exc.absolute_path)
            pytest.fail(f"{overlay}: {obj['kind']}/{obj['metadata']['name']}: {path}: "
                        f"{exc.message}")


def test_crd_schemas_catch_a_misspelt_field():
    monitor = copy.deepcopy(one(render("base"), "ServiceMonitor"))
    monitor["spec"]["endpoints"][0]["intervall"] = "15s"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(monitor, SCHEMAS[("monitoring.coreos.com/v1", "ServiceMonitor")])


@pytest.mark.parametrize("overlay", ALL)
def test_everything_lives_in_the_gateway_namespace(overlay):
    for obj in render(overlay):
        if obj["kind"] == "Namespace":
            assert obj["metadata"]["name"] == "bedrock-gateway"
            continue
        assert obj["metadata"].get("namespace") == "bedrock-gateway", (
            f"{overlay}: {obj['kind']}/{obj['metadata']['name']} has no namespace")


# ------------------------------------------------------------------------------- the pod
@pytest.mark.parametrize("overlay", ALL)
def test_ports_agree(overlay):
    objects = render(overlay)
    env = gateway_env(objects)
    ports = {p["name"]: p["containerPort"] for p in gateway_container(objects)["ports"]}
    assert ports == {"api": int(env["PORT"]), "metrics": int(env["METRICS_PORT"])}
    service = one(objects, "Service", "bedrock-gateway")
    assert {p["name"]: (p["port"], p["targetPort"]) for p in service["spec"]["ports"]} == {
        "api": (ports["api"], "api"), "metrics": (ports["metrics"], "metrics")}


@pytest.mark.parametrize("overlay", ALL)
def test_probes(overlay):
    container = gateway_container(render(overlay))
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "api"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "api"}
    assert container["startupProbe"]["httpGet"]["path"] == "/health"


@pytest.mark.parametrize("overlay", ALL)
def test_shutdown_timing(overlay):
    """preStop sleep = DRAIN_DELAY_SECONDS; the grace period outlasts preStop + drain + grace."""
    objects = render(overlay)
    env = gateway_env(objects)
    drain = float(env["DRAIN_DELAY_SECONDS"])
    grace = float(env["SHUTDOWN_GRACE_SECONDS"])
    container = gateway_container(objects)
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep" and float(command[1]) == drain
    pod = one(objects, "Deployment", "bedrock-gateway")["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] > float(command[1]) + drain + grace


@pytest.mark.parametrize("overlay", ALL)
def test_security_context(overlay):
    objects = render(overlay)
    for deployment in find(objects, "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        context = pod["securityContext"]
        assert context["runAsNonRoot"] is True
        assert context["runAsUser"] == 10001
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert container["resources"]["requests"] and container["resources"]["limits"]
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert "/tmp" in mounts, "the read-only root FS needs a writable /tmp"
            volume = next(v for v in pod["volumes"] if v["name"] == mounts["/tmp"])
            assert "emptyDir" in volume


@pytest.mark.parametrize("overlay", ALL)
def test_api_key_is_a_mounted_secret_file(overlay):
    """API_KEY_FILE points into a Secret volume mounted without subPath (updates reach it)."""
    objects = render(overlay)
    env = gateway_env(objects)
    assert "API_KEY" not in env and "OPENAI_API_KEY" not in env
    key_file = env["API_KEY_FILE"]
    container = gateway_container(objects)
    pod = one(objects, "Deployment", "bedrock-gateway")["spec"]["template"]["spec"]
    mount = next(m for m in container["volumeMounts"]
                 if key_file.startswith(m["mountPath"].rstrip("/") + "/"))
    assert "subPath" not in mount and mount.get("readOnly") is True
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    secret = volume["secret"]
    file_name = key_file[len(mount["mountPath"].rstrip("/")) + 1:]
    item = next(i for i in secret["items"] if i["path"] == file_name)
    if overlay == "base":
        return
    # Who provides the Secret: a plain Secret (local) or an ExternalSecret (eks, keda).
    plain = find(objects, "Secret", secret["secretName"])
    external = [e for e in find(objects, "ExternalSecret")
                if e["spec"]["target"]["name"] == secret["secretName"]]
    assert len(plain) + len(external) == 1, f"{overlay}: no single source for the key Secret"
    if plain:
        assert item["key"] in plain[0].get("stringData", {}) | plain[0].get("data", {})
    else:
        assert item["key"] in [d["secretKey"] for d in external[0]["spec"]["data"]]


# Variables the AWS SDK, OpenTelemetry or Kubernetes wiring read, besides the gateway's own.
_FOREIGN = re.compile(r"^(AWS_|OTEL_|POD_)")


@pytest.mark.parametrize("overlay", ALL)
def test_every_setting_is_one_the_gateway_reads(overlay):
    from bedrock_gateway.settings import setting_names

    known = set(setting_names())
    unknown = {name for name in gateway_env(render(overlay))
               if name not in known and not _FOREIGN.match(name)}
    assert not unknown, f"{overlay}: settings the gateway does not read: {sorted(unknown)}"


def test_topology_spread_and_disruption_budget():
    objects = render("base")
    pod = one(objects, "Deployment", "bedrock-gateway")["spec"]["template"]["spec"]
    keys = {c["topologyKey"] for c in pod["topologySpreadConstraints"]}
    assert "topology.kubernetes.io/zone" in keys
    selector = one(objects, "Deployment", "bedrock-gateway")["spec"]["selector"]["matchLabels"]
    assert one(objects, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == selector
    assert one(objects, "Service", "bedrock-gateway")["spec"]["selector"] == selector


@pytest.mark.parametrize("overlay", ALL)
def test_network_policy_limits_each_port(overlay):
    objects = render(overlay)
    policy = one(objects, "NetworkPolicy", "bedrock-gateway")
    env = gateway_env(objects)
    api, metrics = int(env["PORT"]), int(env["METRICS_PORT"])
    rules = {tuple(p["port"] for p in rule["ports"]): rule["from"]
             for rule in policy["spec"]["ingress"]}
    assert set(rules) == {(api,), (metrics,)}, "only the API and metrics ports, one rule each"
    assert all(peer for peer in rules[(api,)])
    (prometheus,) = rules[(metrics,)]
    assert prometheus["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "monitoring"}
    assert prometheus["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "prometheus"}
    if overlay in ("eks", "keda"):
        assert any("ipBlock" in peer for peer in rules[(api,)]), "the ALB's VPC CIDR"


def test_service_monitor_scrapes_the_metrics_port():
    objects = render("base")
    monitor = one(objects, "ServiceMonitor")
    service = one(objects, "Service", "bedrock-gateway")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"][
        "labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "metrics" and endpoint["path"] == "/metrics"
    # The job label is the Service's name; the alerts select job="bedrock-gateway".
    assert service["metadata"]["name"] == "bedrock-gateway"


def test_deployment_leaves_replicas_to_the_autoscaler():
    for overlay in ("base", "eks", "keda"):
        deployment = one(render(overlay), "Deployment", "bedrock-gateway")
        assert "replicas" not in deployment["spec"], (
            f"{overlay}: a replicas field would fight the autoscaler on every apply")


# ------------------------------------------------------------------------------- overlays
def test_eks_overlay():
    objects = render("eks")
    account = one(objects, "ServiceAccount", "bedrock-gateway")
    assert re.fullmatch(r"arn:aws:iam::\d{12}:role/.+",
                        account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"])
    container = gateway_container(objects)
    assert re.match(r"\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/", container["image"])
    env = gateway_env(objects)
    assert env["AWS_REGION"] and env["BEDROCK_REGIONS"].split(",")[0] == env["AWS_REGION"]
    assert int(env["TRUSTED_PROXY_COUNT"]) == 1, "the ALB adds one X-Forwarded-For hop"
    namespace = one(objects, "Namespace")
    assert namespace["metadata"]["labels"]["elbv2.k8s.aws/pod-readiness-gate-inject"] == "enabled"


def test_alb_ingress():
    objects = render("eks")
    ingress = one(objects, "Ingress", "bedrock-gateway")
    notes = ingress["metadata"]["annotations"]
    assert ingress["spec"]["ingressClassName"] == "alb"
    prefix = "alb.ingress.kubernetes.io/"
    assert notes[prefix + "target-type"] == "ip"
    assert notes[prefix + "scheme"] in ("internal", "internet-facing")
    assert notes[prefix + "healthcheck-path"] == "/ready"
    assert notes[prefix + "backend-protocol"] == "HTTP"
    assert yaml.safe_load(notes[prefix + "listen-ports"]) == [{"HTTPS": 443}]
    assert notes[prefix + "certificate-arn"].startswith("arn:aws:acm:")
    attributes = dict(item.split("=", 1)
                      for item in notes[prefix + "load-balancer-attributes"].split(","))
    assert attributes["idle_timeout.timeout_seconds"] == "600"
    assert attributes["access_logs.s3.enabled"] == "true" and attributes["access_logs.s3.bucket"]
    # The ALB lets a deregistering pod finish its streams (drain + grace) before cutting them.
    env = gateway_env(objects)
    target_group = dict(item.split("=", 1)
                        for item in notes[prefix + "target-group-attributes"].split(","))
    assert int(target_group["deregistration_delay.timeout_seconds"]) >= (
        float(env["DRAIN_DELAY_SECONDS"]) + float(env["SHUTDOWN_GRACE_SECONDS"]))
    assert float(env["REQUEST_TIMEOUT_SECONDS"]) <= float(
        attributes["idle_timeout.timeout_seconds"])
    (rule,) = ingress["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    assert path["backend"]["service"] == {"name": "bedrock-gateway", "port": {"name": "api"}}


def test_external_secret_reads_the_api_key_property():
    external = one(render("eks"), "ExternalSecret", "bedrock-gateway-api-key")
    (item,) = external["spec"]["data"]
    assert item["remoteRef"]["property"] == "api_key" and item["secretKey"] == "api_key"
    assert external["spec"]["target"]["name"] == "bedrock-gateway-api-key"


def test_local_overlay_runs_against_the_emulator():
    objects = render("local")
    kinds = {o["kind"] for o in objects}
    assert not kinds & {"Ingress", "ExternalSecret", "ServiceMonitor", "PrometheusRule",
                        "HorizontalPodAutoscaler", "ScaledObject"}
    gateway = one(objects, "Deployment", "bedrock-gateway")
    assert gateway["spec"]["replicas"] == 1
    account = one(objects, "ServiceAccount", "bedrock-gateway")
    assert not any(k.startswith("eks.amazonaws.com/")
                   for k in account["metadata"].get("annotations", {}))
    emulator = one(objects, "Deployment", "bedrock-emulator")
    (container,) = emulator["spec"]["template"]["spec"]["containers"]
    command = " ".join(container["command"] + container["args"])
    assert command.startswith("python -m bedrock_gateway.emulator")
    port = re.search(r"--port (\d+)", command).group(1)
    service = one(objects, "Service", "bedrock-emulator")
    assert service["spec"]["ports"][0]["port"] == int(port)
    assert container["image"] == gateway_container(objects)["image"], "one image for both"
    env = gateway_env(objects)
    url = f"http://bedrock-emulator:{port}"
    assert env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] == url
    assert env["AWS_ENDPOINT_URL_BEDROCK"] == url
    # Dummy credentials come from a Secret in envFrom.
    secret_refs = [s["secretRef"]["name"] for s in gateway_container(objects)["envFrom"]
                   if "secretRef" in s]
    (credentials,) = [one(objects, "Secret", name) for name in secret_refs]
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(credentials["stringData"])


@pytest.mark.parametrize("overlay", ["local", "eks", "keda"])
def test_redis_url_and_admin_key_come_from_a_secret(overlay):
    """REDIS_URL (with its AUTH password) and ADMIN_API_KEY are never literal values: a Secret
    (local, with the Redis it runs) or an ExternalSecret (eks) provides them."""
    objects = render(overlay)
    env = {item["name"]: item for item in gateway_container(objects)["env"]}
    secrets = {}
    for name in ("REDIS_URL", "ADMIN_API_KEY"):
        ref = env[name]["valueFrom"]["secretKeyRef"]
        secrets.setdefault(ref["name"], set()).add(ref["key"])
    ((secret_name, keys),) = secrets.items()
    if overlay == "local":
        secret = one(objects, "Secret", secret_name)
        url = secret["stringData"]["redis_url"]
        assert keys <= set(secret["stringData"])
        redis = one(objects, "Deployment", "bedrock-redis")
        service = one(objects, "Service", "bedrock-redis")
        host = f"bedrock-redis:{service['spec']['ports'][0]['port']}"
        assert url.startswith("redis://:") and host in url
        password = secret["stringData"]["redis_password"]
        assert f":{password}@" in url
        (container,) = redis["spec"]["template"]["spec"]["containers"]
        assert "--requirepass" in container["args"]
        policy = one(objects, "NetworkPolicy", "bedrock-redis")
        allowed = policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
        assert allowed == {"app.kubernetes.io/name": "bedrock-gateway"}
    else:
        external = one(objects, "ExternalSecret", secret_name)
        assert {d["secretKey"] for d in external["spec"]["data"]} == keys
        assert not find(objects, "Deployment", "bedrock-redis")


def test_keda_overlay_replaces_the_hpa():
    objects = render("keda")
    assert not find(objects, "HorizontalPodAutoscaler")
    scaled = one(objects, "ScaledObject")
    hpa = one(render("eks"), "HorizontalPodAutoscaler")
    assert scaled["spec"]["scaleTargetRef"]["name"] == hpa["spec"]["scaleTargetRef"]["name"]
    assert scaled["spec"]["minReplicaCount"] == hpa["spec"]["minReplicas"]
    assert scaled["spec"]["maxReplicaCount"] == hpa["spec"]["maxReplicas"]
    behavior = scaled["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior == hpa["spec"]["behavior"]
    # KEDA's behavior is an HPA behavior: validate it as one.
    probe = copy.deepcopy(hpa)
    probe["spec"]["behavior"] = behavior
    _validate_builtin(probe)
    triggers = {t["type"]: t for t in scaled["spec"]["triggers"]}
    assert set(triggers) == {"prometheus", "cpu"}
    assert set(triggers["prometheus"]["metadata"]) >= PROMETHEUS_TRIGGER_REQUIRED
    cpu_target = next(m["resource"]["target"]["averageUtilization"]
                      for m in hpa["spec"]["metrics"] if m["type"] == "Resource")
    assert triggers["cpu"]["metadata"]["value"] == str(cpu_target)


def test_prometheus_adapter_rules_configmap_validates():
    (config_map,) = [d for d in yaml.safe_load_all(ADAPTER_RULES.read_text()) if d]
    _validate_builtin(config_map)
    assert config_map["metadata"]["namespace"] == "monitoring"
    config = yaml.safe_load(config_map["data"]["config.yaml"])
    assert [set(rule) for rule in config["rules"]] == [
        {"seriesQuery", "resources", "name", "metricsQuery"}]
