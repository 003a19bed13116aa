"""Our own JSON schemas for the custom resources the manifests use.

kubernetes-validate knows only built-in kinds, so these check the fields we rely on: required
fields, types, and no misspelt keys where we set them (additionalProperties: false on the parts we
write). They are written from the CRDs' documented fields, not copied from them; a field we start
using must be added here first, which is the point.
"""

from __future__ import annotations

_STR = {"type": "string", "minLength": 1}
_INT = {"type": "integer"}
_LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
_METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": _STR, "namespace": _STR, "labels": _LABELS, "annotations": _LABELS},
}
_DURATION = {"type": "string", "pattern": r"^(\d+(ms|s|m|h|d|w|y))+$"}
_LABEL_SELECTOR = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "matchLabels": _LABELS,
        "matchExpressions": {"type": "array", "items": {
            "type": "object", "required": ["key", "operator"],
            "properties": {"key": _STR, "operator": {"enum": ["In", "NotIn", "Exists",
                                                              "DoesNotExist"]},
                           "values": {"type": "array", "items": {"type": "string"}}}}},
    },
}


def _object(api_version: str, kind: str, spec: dict) -> dict:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": api_version},
            "kind": {"const": kind},
            "metadata": _METADATA,
            "spec": spec,
        },
    }


SERVICE_MONITOR = _object("monitoring.coreos.com/v1", "ServiceMonitor", {
    "type": "object",
    "required": ["selector", "endpoints"],
    "additionalProperties": False,
    "properties": {
        "selector": _LABEL_SELECTOR,
        "namespaceSelector": {"type": "object", "additionalProperties": False, "properties": {
            "any": {"type": "boolean"},
            "matchNames": {"type": "array", "items": _STR}}},
        "jobLabel": _STR,
        "targetLabels": {"type": "array", "items": _STR},
        "podTargetLabels": {"type": "array", "items": _STR},
        "sampleLimit": _INT,
        "endpoints": {"type": "array", "minItems": 1, "items": {
            "type": "object",
            "additionalProperties": False,
            # A Service port by name (or a targetPort), not both.
            "oneOf": [{"required": ["port"]}, {"required": ["targetPort"]}],
            "properties": {
                "port": _STR,
                "targetPort": {"type": ["string", "integer"]},
                "path": {"type": "string", "pattern": "^/"},
                "scheme": {"enum": ["http", "https"]},
                "interval": _DURATION,
                "scrapeTimeout": _DURATION,
                "honorLabels": {"type": "boolean"},
                "honorTimestamps": {"type": "boolean"},
                "relabelings": {"type": "array", "items": {"type": "object"}},
                "metricRelabelings": {"type": "array", "items": {"type": "object"}},
            },
        }},
    },
})

_RULE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["expr"],
    "oneOf": [{"required": ["record"]}, {"required": ["alert"]}],
    "properties": {
        "record": {"type": "string", "pattern": r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"},
        "alert": {"type": "string", "pattern": r"^[A-Za-z][A-Za-z0-9_]*$"},
        "expr": _STR,
        "for": _DURATION,
        "keep_firing_for": _DURATION,
        "labels": _LABELS,
        "annotations": _LABELS,
    },
}

PROMETHEUS_RULE = _object("monitoring.coreos.com/v1", "PrometheusRule", {
    "type": "object",
    "required": ["groups"],
    "additionalProperties": False,
    "properties": {"groups": {"type": "array", "minItems": 1, "items": {
        "type": "object",
        "required": ["name", "rules"],
        "additionalProperties": False,
        "properties": {
            "name": _STR,
            "interval": _DURATION,
            "limit": _INT,
            "partial_response_strategy": {"type": "string"},
            "rules": {"type": "array", "minItems": 1, "items": _RULE},
        },
    }}},
})

EXTERNAL_SECRET = {
    **_object("external-secrets.io/v1", "ExternalSecret", {
        "type": "object",
        "required": ["secretStoreRef", "target", "data"],
        "additionalProperties": False,
        "properties": {
            "refreshInterval": _DURATION,
            "secretStoreRef": {"type": "object", "required": ["name"],
                               "additionalProperties": False, "properties": {
                                   "name": _STR,
                                   "kind": {"enum": ["SecretStore", "ClusterSecretStore"]}}},
            "target": {"type": "object", "required": ["name"], "additionalProperties": False,
                       "properties": {
                           "name": _STR,
                           "creationPolicy": {"enum": ["Owner", "Orphan", "Merge", "None"]},
                           "deletionPolicy": {"enum": ["Delete", "Merge", "Retain"]},
                           "immutable": {"type": "boolean"},
                           "template": {"type": "object"}}},
            "data": {"type": "array", "minItems": 1, "items": {
                "type": "object",
                "required": ["secretKey", "remoteRef"],
                "additionalProperties": False,
                "properties": {
                    "secretKey": _STR,
                    "remoteRef": {"type": "object", "required": ["key"],
                                  "additionalProperties": False, "properties": {
                                      "key": _STR, "property": _STR, "version": _STR,
                                      "conversionStrategy": {"enum": ["Default", "Unicode"]},
                                      "decodingStrategy": {"enum": ["Auto", "Base64",
                                                                    "Base64URL", "None"]},
                                      "metadataPolicy": {"enum": ["None", "Fetch"]}}},
                }}},
            "dataFrom": {"type": "array"},
        },
    }),
}

SCALED_OBJECT = _object("keda.sh/v1alpha1", "ScaledObject", {
    "type": "object",
    "required": ["scaleTargetRef", "triggers"],
    "additionalProperties": False,
    "properties": {
        "scaleTargetRef": {"type": "object", "required": ["name"], "additionalProperties": False,
                           "properties": {"name": _STR, "kind": _STR, "apiVersion": _STR,
                                          "envSourceContainerName": _STR}},
        "minReplicaCount": {"type": "integer", "minimum": 0},
        "maxReplicaCount": {"type": "integer", "minimum": 1},
        "idleReplicaCount": {"type": "integer", "minimum": 0},
        "pollingInterval": {"type": "integer", "minimum": 1},
        "cooldownPeriod": {"type": "integer", "minimum": 0},
        "initialCooldownPeriod": {"type": "integer", "minimum": 0},
        "fallback": {"type": "object"},
        "advanced": {"type": "object", "additionalProperties": False, "properties": {
            "restoreToOriginalReplicaCount": {"type": "boolean"},
            # The behavior itself is validated as an HPA's by kubernetes-validate.
            "horizontalPodAutoscalerConfig": {"type": "object", "additionalProperties": False,
                                              "properties": {"name": _STR,
                                                             "behavior": {"type": "object"}}},
            "scalingModifiers": {"type": "object"},
        }},
        "triggers": {"type": "array", "minItems": 1, "items": {
            "type": "object",
            "required": ["type", "metadata"],
            "additionalProperties": False,
            "properties": {
                "type": _STR,
                "name": _STR,
                "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                "useCachedMetrics": {"type": "boolean"},
                "authenticationRef": {"type": "object", "required": ["name"]},
                # KEDA reads trigger metadata as a map of strings: a bare number is an error.
                "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        }},
    },
})

TRIGGER_AUTHENTICATION = _object("keda.sh/v1alpha1", "TriggerAuthentication", {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "podIdentity": {"type": "object", "required": ["provider"], "additionalProperties": False,
                        "properties": {
                            "provider": {"enum": ["none", "aws", "aws-eks", "azure-workload",
                                                  "gcp"]},
                            "roleArn": _STR,
                            "identityOwner": {"enum": ["keda", "workload"]},
                        }},
        "secretTargetRef": {"type": "array"},
        "env": {"type": "array"},
    },
})

# The prometheus trigger's metadata keys (those we set) and which are required.
PROMETHEUS_TRIGGER_REQUIRED = {"serverAddress", "query", "threshold"}

SCHEMAS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): SERVICE_MONITOR,
    ("monitoring.coreos.com/v1", "PrometheusRule"): PROMETHEUS_RULE,
    ("external-secrets.io/v1", "ExternalSecret"): EXTERNAL_SECRET,
    ("keda.sh/v1alpha1", "ScaledObject"): SCALED_OBJECT,
    ("keda.sh/v1alpha1", "TriggerAuthentication"): TRIGGER_AUTHENTICATION,
}
