"""k8s/overlays/eks/iam-policy.json: least privilege for the gateway's role."""

from __future__ import annotations

import json

from deploy_support import IAM_POLICY


def _statements() -> list[dict]:
    policy = json.loads(IAM_POLICY.read_text())
    assert policy["Version"] == "2012-10-17"
    return policy["Statement"]


def _actions(statement: dict) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else actions


def _resources(statement: dict) -> list[str]:
    resources = statement["Resource"]
    return [resources] if isinstance(resources, str) else resources


def test_exactly_the_actions_the_gateway_calls():
    actions = {a for s in _statements() for a in _actions(s)}
    assert all(s["Effect"] == "Allow" for s in _statements())
    # Converse and ConverseStream have no IAM actions of their own: they are authorized by
    # bedrock:InvokeModel and bedrock:InvokeModelWithResponseStream.
    assert actions == {
        "bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream",
        "bedrock:ListFoundationModels", "bedrock:GetFoundationModel",
        "bedrock:ListInferenceProfiles", "bedrock:GetInferenceProfile",
        "secretsmanager:GetSecretValue",
    }
    assert not any("*" in a for a in actions)


def test_resources_are_scoped():
    for statement in _statements():
        actions = _actions(statement)
        resources = _resources(statement)
        if all(a.startswith("bedrock:List") for a in actions):
            # List* actions do not support resource-level permissions.
            assert resources == ["*"]
            continue
        assert "*" not in resources, statement["Sid"]
        for resource in resources:
            service = actions[0].split(":")[0]
            assert resource.startswith(f"arn:aws:{service}:"), resource
    (secret,) = [s for s in _statements() if "secretsmanager:GetSecretValue" in _actions(s)]
    (arn,) = _resources(secret)
    assert ":secret:" in arn and not arn.endswith(":secret:*"), "the one secret only"
