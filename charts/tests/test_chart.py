"""Tests of the herald Helm chart, rendered through Helm's own Go code (helm-python-sdk)."""

from __future__ import annotations

import base64
import copy
import hashlib
import http.server
import json
import re
import threading
from typing import Any

import helm_python as helm
import jsonschema
import kubernetes_validate
import pytest
import yaml
from yamllint import config as yamllint_config
from yamllint import linter

from chartlib import (
    CHART,
    KEE_CONFIG,
    NAMESPACE,
    RELEASE,
    SCENARIOS,
    YAMLLINT_CONFIG,
    Rendered,
    chart,
    manifests_text,
    render,
    schema,
    values_yaml,
)

EXPORTER = f"{RELEASE}-exporter"
RULER = f"{RELEASE}-ruler"
TOKEN_SECRET = f"{RELEASE}-grpc-token"
CLUSTER_NAME = f"{RELEASE}-{NAMESPACE}"
# Kubernetes versions whose schemas every rendered object must satisfy: the chart's
# minimum (Chart.yaml kubeVersion) and the newest the validator knows.
KUBE_VERSIONS = ["1.25.0", kubernetes_validate.utils.latest_version()]
DEFAULT_LOOKUP_RULES = [
    {"apiGroups": [""], "resources": ["pods", "nodes", "services", "endpoints", "persistentvolumeclaims",
                                      "persistentvolumes", "replicationcontrollers", "serviceaccounts",
                                      "configmaps"], "verbs": ["get"]},
    {"apiGroups": ["apps"], "resources": ["deployments", "replicasets", "statefulsets", "daemonsets"],
     "verbs": ["get"]},
    {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": ["get"]},
    {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": ["get"]},
    {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"], "verbs": ["get"]},
    {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": ["get"]},
]
EVENTS_RULE = {"apiGroups": [""], "resources": ["events"], "verbs": ["list", "watch"]}
PODS_WATCH_RULE = {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]}
NAMESPACES_RULE = {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch"]}
NAMESPACES_GET_RULE = {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list"]}


@pytest.fixture(scope="module", params=sorted(SCENARIOS))
def scenario(request: pytest.FixtureRequest) -> Rendered:
    return render(SCENARIOS[request.param])


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    return workload["spec"]["template"]["spec"]["containers"]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def mounts(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["mountPath"]: m for m in container.get("volumeMounts", [])}


def volumes(workload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in pod_spec(workload).get("volumes", [])}


def labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def find_key(node: Any, key: str) -> bool:
    if isinstance(node, dict):
        return key in node or any(find_key(v, key) for v in node.values())
    if isinstance(node, list):
        return any(find_key(v, key) for v in node)
    return False


# --- lint and schema ------------------------------------------------------------------


def test_lint_has_no_warnings_or_errors() -> None:
    report = helm.lint(str(CHART), strict=True, namespace=NAMESPACE)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_lint_every_scenario(name: str) -> None:
    report = helm.lint(str(CHART), values=SCENARIOS[name], strict=True, namespace=NAMESPACE)
    assert report["errors"] == [], report


def test_default_values_satisfy_the_schema() -> None:
    jsonschema.Draft7Validator.check_schema(schema())
    jsonschema.validate(values_yaml(), schema())


@pytest.mark.parametrize(
    "values, complaint",
    [
        ({"exporter": {"replicas": "two"}}, "/exporter/replicas"),
        ({"exporter": {"replicas": 3}}, "/exporter/replicas"),
        ({"exporter": {"replicas": 0}}, "/exporter/replicas"),
        ({"mode": "both"}, "/mode"),
        ({"replicaCount": 2}, "replicaCount"),  # the Bitnami key: rejected, not ignored
        ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
        ({"ruler": {"podAntiAffinity": "maybe"}}, "/ruler/podAntiAffinity"),
        ({"ruler": {"replicas": -1}}, "/ruler/replicas"),
        ({"config": {"omitLookup": "yes"}}, "/config/omitLookup"),
        ({"config": {"leaderElection": {"enabled": "true"}}}, "/config/leaderElection/enabled"),
        ({"ruler": {"exporters": ["exporter:50051"]}}, "/ruler/exporters/0"),
        ({"metrics": {"prometheusRule": {"noEventsFor": "thirty minutes"}}}, "/metrics/prometheusRule/noEventsFor"),
        ({"exporter": {"persistence": {"size": "lots"}}}, "/exporter/persistence/size"),
    ],
)
def test_schema_rejects_bad_values(values: dict[str, Any], complaint: str) -> None:
    with pytest.raises(helm.HelmValuesError) as err:
        chart().render(values, name=RELEASE, namespace=NAMESPACE)
    assert complaint in str(err.value)
    # The schema alone (without Helm) rejects them too.
    merged = chart().merge_values(values)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(merged, schema())


@pytest.mark.parametrize(
    "values, message",
    [
        ({"exporter": {"replicas": 2}, "config": {"leaderElection": {"enabled": False}}}, "needs leader election"),
        ({"tls": {"enabled": True}}, "tls.exporterSecretName"),
        ({"tls": {"enabled": True, "exporterSecretName": "x", "clientAuth": True}}, "tls.rulerSecretName"),
        ({"ruler": {"autoscaling": {"enabled": True}, "resources": {"requests": {"cpu": None}}}},
         "ruler.resources.requests.cpu"),
        ({"ruler": {"autoscaling": {"enabled": True, "targetCPUUtilizationPercentage": None}}}, "at least one target"),
        ({"ruler": {"autoscaling": {"enabled": True, "minReplicas": 5, "maxReplicas": 2}}}, "maxReplicas"),
        ({"mode": "combined", "config": {"receivers": [
            {"name": "dump", "stdout": {}},
            {"name": "loki", "loki": {"url": "http://loki:3100/loki/api/v1/push"},
             "hook": {"source": "def transform(config, event):\n    return config\n"}}]}},
         "receiver loki has a hook: hooks run in herald-ruler (mode: split)"),
    ],
)
def test_inconsistent_values_fail_with_a_clear_message(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmRenderError) as err:
        chart().render(values, name=RELEASE, namespace=NAMESPACE)
    assert message in str(err.value)


def test_receiver_hooks_render_in_split_mode() -> None:
    hook = {"source": "def transform(config, event):\n    return config\n", "onError": "skip"}
    rendered = render({"config": {"receivers": [{"name": "dump", "stdout": {}, "hook": hook}]}})
    assert "def transform(config, event)" in rendered.text


# --- rendered YAML validity ------------------------------------------------------------


def test_rendered_yaml_passes_yamllint(scenario: Rendered) -> None:
    conf = yamllint_config.YamlLintConfig(file=str(YAMLLINT_CONFIG))
    problems = list(linter.run(scenario.text, conf))
    assert problems == [], "\n".join(str(p) for p in problems)


@pytest.mark.parametrize("version", KUBE_VERSIONS)
def test_rendered_objects_match_the_kubernetes_schemas(scenario: Rendered, version: str) -> None:
    for obj in scenario.objects:
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # CRDs: checked structurally in test_prometheus_operator_objects
        kubernetes_validate.validate(obj, version, strict=True)


def test_every_object_has_required_metadata(scenario: Rendered) -> None:
    cluster_scoped = {"ClusterRole", "ClusterRoleBinding"}
    dns_label = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    for obj in scenario.objects:
        meta = obj["metadata"]
        assert obj["apiVersion"] and obj["kind"]
        assert name_fits(obj) and dns_label.match(meta["name"]), meta["name"]
        if obj["kind"] in cluster_scoped:
            assert "namespace" not in meta
        else:
            assert meta["namespace"], f"{obj['kind']}/{meta['name']} has no namespace"
        labels = meta["labels"]
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert all(len(str(v)) <= 63 for v in labels.values())


def name_fits(obj: dict[str, Any]) -> bool:
    """RBAC object names may be 253 characters long; everything else here is a DNS label."""
    limit = 253 if obj["kind"] in ("Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding") else 63
    return len(obj["metadata"]["name"]) <= limit


def test_names_fit_with_the_longest_release_name() -> None:
    name = "a" * 53  # Helm's maximum release name length
    for values in (SCENARIOS["leader-election"], SCENARIOS["combined-monitoring"], SCENARIOS["monitoring"]):
        out = render(values, name=name, namespace="n" * 63)
        for obj in out.objects:
            assert name_fits(obj), obj["metadata"]["name"]
            assert all(len(str(v)) <= 63 for v in obj["metadata"]["labels"].values())
        for svc in out.all("Service"):
            assert len(svc["metadata"]["name"]) <= 63


def test_workload_selectors_match_their_pods_and_services_find_pods(scenario: Rendered) -> None:
    pods = []
    for wl in scenario.workloads():
        tpl_labels = wl["spec"]["template"]["metadata"]["labels"]
        assert labels_match(wl["spec"]["selector"]["matchLabels"], tpl_labels)
        pods.append((wl, tpl_labels))
    for svc in scenario.all("Service"):
        matched = [wl for wl, lbl in pods if labels_match(svc["spec"]["selector"], lbl)]
        assert len(matched) == 1, f"Service {svc['metadata']['name']} selects {len(matched)} workloads"
        port_names = {p["name"] for c in containers(matched[0]) for p in c["ports"]}
        for port in svc["spec"]["ports"]:
            assert port["targetPort"] in port_names


# --- default install ------------------------------------------------------------------


def test_default_objects() -> None:
    out = render()
    assert out.kinds() == {
        ("ConfigMap", f"{RELEASE}-config"),
        ("ServiceAccount", EXPORTER),
        ("ServiceAccount", RULER),
        ("ClusterRole", CLUSTER_NAME),
        ("ClusterRoleBinding", CLUSTER_NAME),
        ("StatefulSet", EXPORTER),
        ("Service", EXPORTER),
        ("Service", f"{EXPORTER}-headless"),
        ("Deployment", RULER),
        ("Service", f"{RULER}-metrics"),
        ("PodDisruptionBudget", RULER),
        ("Secret", TOKEN_SECRET),
        ("NetworkPolicy", EXPORTER),
        ("NetworkPolicy", RULER),
    }


def test_default_exporter_statefulset() -> None:
    sts = render().get("StatefulSet", EXPORTER)
    spec = sts["spec"]
    assert spec["replicas"] == 1
    assert spec["podManagementPolicy"] == "Parallel"
    assert spec["serviceName"] == f"{EXPORTER}-headless"
    assert spec["updateStrategy"] == {"type": "RollingUpdate"}
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "2Gi"
    assert "storageClassName" not in claim["spec"]
    (c,) = containers(sts)
    assert c["command"] == ["herald-exporter"]
    assert c["args"] == ["--config", "/etc/herald/config.yaml", "--data-dir", "/var/lib/herald",
                         "--grpc-address", "0.0.0.0:50051", "--metrics-address", "0.0.0.0:2112"]
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"grpc": 50051, "http": 2112}
    assert mounts(c)["/var/lib/herald"]["name"] == "data"
    assert mounts(c)["/etc/herald/config.yaml"] == {
        "name": "config", "mountPath": "/etc/herald/config.yaml", "subPath": "config.yaml", "readOnly": True}
    env = {e["name"]: e for e in c["env"]}
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert "HERALD_LOG" not in env
    assert pod_spec(sts)["serviceAccountName"] == EXPORTER
    assert pod_spec(sts)["automountServiceAccountToken"] is True
    assert "affinity" not in pod_spec(sts)  # one replica: nothing to spread


def test_default_ruler_deployment() -> None:
    dep = render().get("Deployment", RULER)
    assert dep["spec"]["replicas"] == 2
    spec = pod_spec(dep)
    assert spec["automountServiceAccountToken"] is False
    assert spec["serviceAccountName"] == RULER
    (c,) = containers(dep)
    assert c["command"] == ["herald-ruler"]
    assert c["args"] == ["--config", "/etc/herald/config.yaml", "--metrics-address", "0.0.0.0:2112"]
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"http": 2112}
    assert set(mounts(c)) == {"/etc/herald/config.yaml", "/tmp"}
    assert volumes(dep)["tmp"]["emptyDir"] == {"sizeLimit": "64Mi"}
    soft = spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert soft[0]["podAffinityTerm"]["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == "ruler"
    pdb = render().get("PodDisruptionBudget", RULER)
    assert pdb["spec"]["maxUnavailable"] == 1
    assert labels_match(pdb["spec"]["selector"]["matchLabels"], dep["spec"]["template"]["metadata"]["labels"])


def test_default_rbac_is_least_privilege() -> None:
    out = render()
    role = out.get("ClusterRole", CLUSTER_NAME)
    assert role["rules"] == [EVENTS_RULE, *DEFAULT_LOOKUP_RULES, PODS_WATCH_RULE, NAMESPACES_RULE]
    binding = out.get("ClusterRoleBinding", CLUSTER_NAME)
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": CLUSTER_NAME}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": EXPORTER, "namespace": NAMESPACE}]
    assert out.all("Role") == [] and out.all("RoleBinding") == []
    for r in out.all("ClusterRole"):
        for rule in r["rules"]:
            assert "*" not in rule["verbs"] and "*" not in rule["resources"] and "*" not in rule["apiGroups"]
            assert "secrets" not in rule["resources"]
    # Nothing is bound to the rulers' ServiceAccount.
    bound = [s["name"] for b in out.all("ClusterRoleBinding") + out.all("RoleBinding") for s in b["subjects"]]
    assert RULER not in bound


def test_custom_lookup_rules_replace_the_defaults() -> None:
    out = render({"rbac": {"lookupRules": [{"apiGroups": ["argoproj.io"], "resources": ["rollouts"]}],
                           "extraRules": [{"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}]}})
    assert out.get("ClusterRole", CLUSTER_NAME)["rules"] == [
        EVENTS_RULE,
        {"apiGroups": ["argoproj.io"], "resources": ["rollouts"], "verbs": ["get"]},
        PODS_WATCH_RULE,
        NAMESPACES_RULE,
        {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    ]


def test_rbac_can_be_left_to_the_user() -> None:
    out = render({"rbac": {"create": False}, "serviceAccount": {"create": False, "name": "events-reader"}})
    assert not any(o["kind"].endswith(("Role", "RoleBinding")) for o in out.objects)
    assert not out.has("ServiceAccount", EXPORTER)
    assert pod_spec(out.get("StatefulSet", EXPORTER))["serviceAccountName"] == "events-reader"


def test_probes_use_the_real_health_endpoints(scenario: Rendered) -> None:
    for wl in scenario.workloads():
        for c in containers(wl):
            assert c["livenessProbe"]["httpGet"] == {"path": "/-/healthy", "port": "http"}
            assert c["readinessProbe"]["httpGet"] == {"path": "/-/ready", "port": "http"}
            http = [p for p in c["ports"] if p["name"] == "http"]
            assert http == [{"name": "http", "containerPort": 2112, "protocol": "TCP"}]
            assert "--metrics-address" in c["args"]
            assert c["args"][c["args"].index("--metrics-address") + 1] == "0.0.0.0:2112"


def test_security_context_everywhere(scenario: Rendered) -> None:
    for wl in scenario.workloads():
        pod = pod_spec(wl)["securityContext"]
        assert pod["runAsNonRoot"] is True
        assert pod["runAsUser"] == 65532 and pod["fsGroup"] == 65532
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
        for c in containers(wl):
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["privileged"] is False
            assert sc["runAsNonRoot"] is True
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
            # The root filesystem is read-only: every writable path is a volume.
            assert mounts(c)["/tmp"]["name"] == "tmp"
            assert "readOnly" not in mounts(c)["/tmp"]
            if c["name"] in ("exporter", "herald"):
                assert mounts(c)["/var/lib/herald"]["name"] == "data"


def test_config_checksum_rolls_pods_when_the_config_changes() -> None:
    def checksums(values: dict[str, Any]) -> set[str]:
        out = render(values)
        return {w["spec"]["template"]["metadata"]["annotations"]["checksum/config"] for w in out.workloads()}

    before = checksums({})
    assert len(before) == 1  # exporter and rulers read the same file
    assert checksums({"config": {"logLevel": "debug"}}) != before
    assert checksums({"ruler": {"replicas": 5}}) == before


# --- the config file ------------------------------------------------------------------


def test_default_config_has_no_empty_layout() -> None:
    cfg = render().config()
    assert not find_key(cfg, "layout"), "an empty layout makes every event render as {}"
    assert cfg["receivers"] == [{"name": "dump", "stdout": {}}]
    assert cfg["route"] == {"routes": [{"match": [{"receiver": "dump"}]}]}
    assert cfg["ruler"] == {"exporters": [f"http://{EXPORTER}:50051"], "authToken": "${HERALD_AUTH_TOKEN}"}
    assert "leaderElection" not in cfg
    assert cfg["exporter"] == {"grpc": {"authTokenFile": "/etc/herald/auth/token"}}


def test_user_config_round_trips_unchanged() -> None:
    out = render({"config": KEE_CONFIG})
    rendered = out.config()
    # The chart only adds the rulers' exporter address and the token wiring; everything else
    # is the user's, untouched.
    expected = copy.deepcopy(KEE_CONFIG)
    expected["ruler"] = {"exporters": [f"http://{EXPORTER}:50051"], "authToken": "${HERALD_AUTH_TOKEN}"}
    expected["exporter"] = {"grpc": {"authTokenFile": "/etc/herald/auth/token"}}
    assert rendered == expected
    text = out.get("ConfigMap", f"{RELEASE}-config")["data"]["config.yaml"]
    assert "${SLACK_TOKEN}" in text and "${ES_PASSWORD}" in text  # left for herald to expand
    assert "'{{ .GetTimestampMs }}'" in text  # templates stay quoted, so YAML still parses
    assert "cacheSize: 1048576" in text  # no float notation
    es_layout = rendered["receivers"][2]["elasticsearch"]["layout"]
    assert es_layout["port"] == "8080" and es_layout["enabled"] == "true"  # strings stay strings


def test_combined_mode_config_round_trips_without_ruler_section() -> None:
    cfg = render({"mode": "combined", "config": KEE_CONFIG}).config()
    assert cfg == {**KEE_CONFIG, "exporter": {"grpc": {"authTokenFile": "/etc/herald/auth/token"}}}


def test_chart_never_overwrites_user_settings() -> None:
    user = copy.deepcopy(KEE_CONFIG)
    user["leaderElection"] = {"enabled": True, "leaderElectionID": "my-lease"}
    user["ruler"] = {"exporters": ["https://central-exporter.example:50051"], "group": "team-a",
                     "tls": {"caFile": "/custom/ca.pem"}}
    user["exporter"] = {"grpc": {"tls": {"certFile": "/custom/tls.crt"}}, "retention": {"maxAge": "72h"}}
    out = render({
        "config": user,
        "exporter": {"replicas": 2, "retention": {"maxAge": "24h", "maxBytes": "5GiB"}},
        "tls": {"enabled": True, "exporterSecretName": "ex-tls"},
    })
    cfg = out.config()
    assert cfg["leaderElection"] == {"enabled": True, "leaderElectionID": "my-lease"}
    assert cfg["ruler"]["exporters"] == ["https://central-exporter.example:50051"]
    assert cfg["ruler"]["group"] == "team-a"
    assert cfg["ruler"]["tls"] == {"caFile": "/custom/ca.pem", "serverName": EXPORTER}
    assert cfg["exporter"]["grpc"]["tls"] == {"certFile": "/custom/tls.crt", "keyFile": "/etc/herald/tls/tls.key"}
    assert cfg["exporter"]["retention"] == {"maxAge": "72h", "maxBytes": "5GiB"}
    # The Lease RBAC follows the user's lease name.
    role = out.get("Role", f"{EXPORTER}-lease")
    assert role["rules"][0]["resourceNames"] == ["my-lease"]


def test_retention_and_ruler_exporters_values_render_into_config() -> None:
    cfg = render({"exporter": {"retention": {"maxAge": "12h", "maxBytes": "512MiB"}},
                  "ruler": {"exporters": ["http://a:50051", "http://b:50051"]}}).config()
    assert cfg["exporter"]["retention"] == {"maxAge": "12h", "maxBytes": "512MiB"}
    assert cfg["ruler"]["exporters"] == ["http://a:50051", "http://b:50051"]


# --- leader election ------------------------------------------------------------------


def test_two_exporters_turn_on_leader_election() -> None:
    out = render(SCENARIOS["leader-election"])
    cfg = out.config()
    assert cfg["leaderElection"] == {"enabled": True, "leaderElectionID": EXPORTER}
    sts = out.get("StatefulSet", EXPORTER)
    assert sts["spec"]["replicas"] == 2
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    # The standby is never ready; without maxUnavailable a rollout would wait for it forever.
    assert sts["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2}}
    term = pod_spec(sts)["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == "exporter"
    role = out.get("Role", f"{EXPORTER}-lease")
    assert role["metadata"]["namespace"] == NAMESPACE  # the service-account namespace
    assert role["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": [EXPORTER],
         "verbs": ["get", "update"]},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
    ]
    binding = out.get("RoleBinding", f"{EXPORTER}-lease")
    assert binding["metadata"]["namespace"] == NAMESPACE
    assert binding["roleRef"]["name"] == f"{EXPORTER}-lease"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": EXPORTER, "namespace": NAMESPACE}]
    # No disruption budget for the exporter: the never-ready standby would block every drain.
    assert not out.has("PodDisruptionBudget", EXPORTER)
    assert "Kubernetes 1.35" in out.notes
    # Rulers subscribe to every exporter pod: a standby drains what its log still holds
    # for a receiver that was behind when leadership moved.
    assert cfg["ruler"]["exporters"] == [
        f"http://{EXPORTER}-{i}.{EXPORTER}-headless.{NAMESPACE}.svc:50051" for i in range(2)
    ]
    assert out.get("Service", f"{EXPORTER}-headless")["spec"]["publishNotReadyAddresses"] is True


def test_rulers_verify_the_service_name_on_every_exporter_pod() -> None:
    cfg = render({"exporter": {"replicas": 2}, "tls": {"enabled": True, "exporterSecretName": "ex-tls"}}).config()
    assert cfg["ruler"]["exporters"] == [
        f"https://{EXPORTER}-{i}.{EXPORTER}-headless.{NAMESPACE}.svc:50051" for i in range(2)
    ]
    assert cfg["ruler"]["tls"]["serverName"] == EXPORTER


def test_leader_election_from_config_with_one_replica_gets_lease_rbac() -> None:
    out = render({"config": {"leaderElection": {"enabled": True}}})
    assert out.config()["leaderElection"] == {"enabled": True, "leaderElectionID": EXPORTER}
    assert out.has("Role", f"{EXPORTER}-lease")
    assert out.get("StatefulSet", EXPORTER)["spec"]["updateStrategy"] == {"type": "RollingUpdate"}


# --- namespace scope and lookups ------------------------------------------------------


def test_namespace_scoped_mode_uses_roles_in_that_namespace() -> None:
    out = render(SCENARIOS["namespace-scoped"])
    role = out.get("Role", EXPORTER)
    assert role["metadata"]["namespace"] == "apps"
    assert role["rules"] == [EVENTS_RULE, *DEFAULT_LOOKUP_RULES, PODS_WATCH_RULE]
    binding = out.get("RoleBinding", EXPORTER)
    assert binding["metadata"]["namespace"] == "apps"
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": EXPORTER}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": EXPORTER, "namespace": NAMESPACE}]
    # The only cluster-wide grant: reading the labels of the watched namespace itself.
    (cluster_role,) = out.all("ClusterRole")
    assert cluster_role["rules"] == [{"apiGroups": [""], "resources": ["namespaces"], "resourceNames": ["apps"],
                                      "verbs": ["get", "list"]}]
    (cluster_binding,) = out.all("ClusterRoleBinding")
    assert cluster_binding["roleRef"]["name"] == cluster_role["metadata"]["name"]
    assert "namespace apps only" in out.notes


def test_the_pod_watch_can_be_turned_off_with_its_rule() -> None:
    out = render({"config": {"exporter": {"lookup": {"watchPods": False}}}})
    assert out.get("ClusterRole", CLUSTER_NAME)["rules"] == [EVENTS_RULE, *DEFAULT_LOOKUP_RULES, NAMESPACES_RULE]
    assert out.config()["exporter"]["lookup"]["watchPods"] is False


def test_the_namespace_watch_needs_watch_on_namespaces_unless_turned_off() -> None:
    out = render()
    assert NAMESPACES_RULE in out.get("ClusterRole", CLUSTER_NAME)["rules"]
    off = render({"config": {"exporter": {"lookup": {"watchNamespaces": False}}}})
    assert off.get("ClusterRole", CLUSTER_NAME)["rules"] == [
        EVENTS_RULE, *DEFAULT_LOOKUP_RULES, PODS_WATCH_RULE, NAMESPACES_GET_RULE]
    assert off.config()["exporter"]["lookup"]["watchNamespaces"] is False
    # without namespace labels there is nothing to watch
    no_labels = render({"config": {"exporter": {"lookup": {"namespaceLabels": False}}}})
    assert NAMESPACES_GET_RULE in no_labels.get("ClusterRole", CLUSTER_NAME)["rules"]


def test_omit_lookup_drops_every_get_rule() -> None:
    out = render(SCENARIOS["omit-lookup"])
    assert out.get("ClusterRole", CLUSTER_NAME)["rules"] == [EVENTS_RULE]
    scoped = render({"config": {"omitLookup": True, "namespace": "apps"}})
    assert scoped.get("Role", EXPORTER)["rules"] == [EVENTS_RULE]
    assert scoped.all("ClusterRole") == []


# --- combined mode --------------------------------------------------------------------


def test_combined_mode_runs_one_deployment() -> None:
    out = render(SCENARIOS["combined"])
    assert out.kinds() == {
        ("ConfigMap", f"{RELEASE}-config"),
        ("ServiceAccount", RELEASE),
        ("ClusterRole", CLUSTER_NAME),
        ("ClusterRoleBinding", CLUSTER_NAME),
        ("Deployment", RELEASE),
        ("PersistentVolumeClaim", f"{RELEASE}-data"),
        ("Service", RELEASE),
        ("Secret", TOKEN_SECRET),
        ("NetworkPolicy", RELEASE),
    }
    dep = out.get("Deployment", RELEASE)
    assert dep["spec"]["replicas"] == 1
    assert dep["spec"]["strategy"] == {"type": "Recreate"}
    (c,) = containers(dep)
    assert c["command"] == ["herald", "run"]
    assert c["args"] == ["--config", "/etc/herald/config.yaml", "--data-dir", "/var/lib/herald",
                         "--metrics-address", "0.0.0.0:2112"]
    assert {p["name"] for p in c["ports"]} == {"grpc", "http"}
    assert volumes(dep)["data"]["persistentVolumeClaim"] == {"claimName": f"{RELEASE}-data"}
    assert c["resources"] == {"requests": {"cpu": "100m", "memory": "192Mi"}, "limits": {"memory": "768Mi"}}
    assert pod_spec(dep)["serviceAccountName"] == RELEASE
    assert out.get("ClusterRoleBinding", CLUSTER_NAME)["subjects"][0]["name"] == RELEASE
    pvc = out.get("PersistentVolumeClaim", f"{RELEASE}-data")
    assert pvc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert "ruler" not in out.config()
    svc = out.get("Service", RELEASE)
    assert {p["name"]: p["port"] for p in svc["spec"]["ports"]} == {"grpc": 50051, "metrics": 2112}


def test_without_persistence_the_log_uses_an_emptydir() -> None:
    out = render(SCENARIOS["no-persistence"])
    sts = out.get("StatefulSet", EXPORTER)
    assert "volumeClaimTemplates" not in sts["spec"]
    assert volumes(sts)["data"]["emptyDir"] == {"sizeLimit": "2Gi"}
    assert "WARNING" in out.notes
    comb = render({"mode": "combined", "exporter": {"persistence": {"enabled": False}}})
    assert not comb.all("PersistentVolumeClaim")
    assert volumes(comb.get("Deployment", RELEASE))["data"]["emptyDir"] == {"sizeLimit": "2Gi"}


def test_storage_class_values() -> None:
    def claim(storage_class: str) -> dict[str, Any]:
        sts = render({"exporter": {"persistence": {"storageClass": storage_class}}}).get("StatefulSet", EXPORTER)
        return sts["spec"]["volumeClaimTemplates"][0]["spec"]

    assert claim("fast-ssd")["storageClassName"] == "fast-ssd"
    assert claim("-")["storageClassName"] == ""


# --- TLS and tokens -------------------------------------------------------------------


def test_tls_and_token_wiring() -> None:
    out = render(SCENARIOS["tls-auth"])
    cfg = out.config()
    assert cfg["exporter"]["grpc"] == {
        "tls": {"certFile": "/etc/herald/tls/tls.crt", "keyFile": "/etc/herald/tls/tls.key",
                "clientCaFile": "/etc/herald/tls/ca.crt"},
        "authTokenFile": "/etc/herald/auth/token",
    }
    assert cfg["ruler"] == {
        "exporters": [f"https://{EXPORTER}:50051"],
        "tls": {"caFile": "/etc/herald/tls/ca.crt", "certFile": "/etc/herald/tls/tls.crt",
                "keyFile": "/etc/herald/tls/tls.key", "serverName": EXPORTER},
        "authToken": "${HERALD_AUTH_TOKEN}",
    }
    sts = out.get("StatefulSet", EXPORTER)
    assert volumes(sts)["tls"]["secret"] == {"secretName": "herald-exporter-tls"}
    assert volumes(sts)["auth"]["secret"] == {"secretName": "herald-grpc-token",
                                              "items": [{"key": "token", "path": "token"}]}
    (exp,) = containers(sts)
    assert mounts(exp)["/etc/herald/tls"]["readOnly"] is True
    assert mounts(exp)["/etc/herald/auth"]["readOnly"] is True
    dep = out.get("Deployment", RULER)
    assert volumes(dep)["tls"]["secret"] == {"secretName": "herald-ruler-tls"}
    (rul,) = containers(dep)
    env = {e["name"]: e for e in rul["env"]}
    assert env["HERALD_AUTH_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": "herald-grpc-token", "key": "token"}}
    assert "auth" not in volumes(dep)
    assert "https://" in out.notes


def test_rulers_get_only_the_ca_of_the_exporter_secret() -> None:
    out = render(SCENARIOS["tls-ca-only"])
    secret = volumes(out.get("Deployment", RULER))["tls"]["secret"]
    assert secret == {"secretName": "herald-exporter-tls", "items": [{"key": "ca.crt", "path": "ca.crt"}]}
    assert out.config()["ruler"]["tls"] == {"caFile": "/etc/herald/tls/ca.crt", "serverName": EXPORTER}
    assert "clientCaFile" not in out.config()["exporter"]["grpc"]["tls"]


# --- scaling --------------------------------------------------------------------------


def test_hpa_with_cpu_and_custom_metric() -> None:
    out = render(SCENARIOS["hpa"])
    hpa = out.get("HorizontalPodAutoscaler", RULER)
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": RULER}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)
    assert hpa["spec"]["metrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}},
        {"type": "Pods", "pods": {"metric": {"name": "herald_ruler_consumer_lag"},
                                  "target": {"type": "AverageValue", "averageValue": "1000"}}},
    ]
    assert "replicas" not in out.get("Deployment", RULER)["spec"]  # the HPA owns it
    assert not render().all("HorizontalPodAutoscaler")


def test_pdb_min_available_wins() -> None:
    pdb = render({"ruler": {"pdb": {"minAvailable": 1}}}).get("PodDisruptionBudget", RULER)
    assert pdb["spec"] == {"minAvailable": 1, "selector": pdb["spec"]["selector"]}
    assert not render({"ruler": {"pdb": {"enabled": False}}}).all("PodDisruptionBudget")


# --- environment, extra volumes, image ------------------------------------------------


def test_secrets_reach_every_container_through_env_from() -> None:
    out = render(SCENARIOS["kee-config"])
    for wl in out.workloads():
        for c in containers(wl):
            assert {"secretRef": {"name": "sink-credentials"}} in c["envFrom"]
    out = render({"ruler": {"extraEnvFrom": [{"secretRef": {"name": "slack"}}]}, "logFilter": "debug"})
    (rul,) = containers(out.get("Deployment", RULER))
    assert rul["envFrom"] == [{"secretRef": {"name": "slack"}}]
    assert {"name": "HERALD_LOG", "value": "debug"} in rul["env"]
    (exp,) = containers(out.get("StatefulSet", EXPORTER))
    assert "envFrom" not in exp


def test_file_sink_volume_for_rulers() -> None:
    out = render({"ruler": {"extraVolumes": [{"name": "events", "emptyDir": {}}],
                            "extraVolumeMounts": [{"name": "events", "mountPath": "/var/log/events"}]}})
    dep = out.get("Deployment", RULER)
    assert volumes(dep)["events"] == {"name": "events", "emptyDir": {}}
    assert mounts(containers(dep)[0])["/var/log/events"]["name"] == "events"


def test_image_reference() -> None:
    (c,) = containers(render().get("StatefulSet", EXPORTER))
    assert c["image"] == f"ghcr.io/herald-dev/herald:{chart().metadata['appVersion']}"
    digest = "sha256:" + "a" * 64
    (c,) = containers(render({"image": {"digest": digest, "tag": "ignored"}}).get("Deployment", RULER))
    assert c["image"] == f"ghcr.io/herald-dev/herald@{digest}"


# --- monitoring and network policy ----------------------------------------------------


def test_prometheus_operator_objects() -> None:
    out = render(SCENARIOS["monitoring"])
    sm = out.get("ServiceMonitor", RELEASE)
    assert sm["apiVersion"] == "monitoring.coreos.com/v1"
    assert sm["metadata"]["labels"]["release"] == "prom"
    assert sm["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert sm["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "30s"}]
    scraped = [s for s in out.all("Service") if labels_match(sm["spec"]["selector"]["matchLabels"], s["metadata"]["labels"])]
    # Both exporters (the standby too, through the headless Service) and the rulers; the
    # leader-only Service is not scraped twice.
    assert sorted(s["metadata"]["name"] for s in scraped) == [f"{EXPORTER}-headless", f"{RULER}-metrics"]
    assert out.get("Service", f"{EXPORTER}-headless")["spec"]["publishNotReadyAddresses"] is True
    for svc in scraped:
        assert "metrics" in {p["name"] for p in svc["spec"]["ports"]}

    rule = out.get("PrometheusRule", RELEASE)
    (group,) = rule["spec"]["groups"]
    alerts = {r["alert"]: r for r in group["rules"]}
    assert set(alerts) == {"HeraldNoEventsExported", "HeraldWatchUnhealthy", "HeraldReceiverFailing",
                           "HeraldLogNearRetention"}
    assert "increase(herald_exporter_events_logged_total{" in alerts["HeraldNoEventsExported"]["expr"]
    assert "[30m]" in alerts["HeraldNoEventsExported"]["expr"]
    assert "herald_sink_errors_total" in alerts["HeraldReceiverFailing"]["expr"]
    assert alerts["HeraldReceiverFailing"]["for"] == "10m"
    near = alerts["HeraldLogNearRetention"]["expr"]
    assert "herald_exporter_log_bytes" in near and "herald_exporter_log_retention_max_bytes" in near
    assert "> 0.9" in near
    # Prometheus templates survive Helm's templating.
    assert "{{ $labels.sink }}" in alerts["HeraldReceiverFailing"]["annotations"]["summary"]
    for r in group["rules"]:
        assert r["labels"]["severity"] == "warning"
        # The selector matches exactly the Services the ServiceMonitor scrapes.
        selector = re.search(r'service=~"([^"]+)"', r["expr"])
        assert selector, r["expr"]
        for svc in out.all("Service"):
            name = svc["metadata"]["name"]
            assert bool(re.fullmatch(selector.group(1), name)) == (svc in scraped), name


def test_alerts_can_be_tuned_and_disabled() -> None:
    out = render({"metrics": {"prometheusRule": {
        "enabled": True, "noEventsFor": "1h", "disabledAlerts": ["HeraldLogNearRetention"],
        "additionalRules": [{"alert": "Custom", "expr": "vector(1)"}], "severity": "critical"}}})
    rules = out.get("PrometheusRule", RELEASE)["spec"]["groups"][0]["rules"]
    names = [r["alert"] for r in rules]
    assert "HeraldLogNearRetention" not in names and names[-1] == "Custom"
    assert "[1h]" in rules[0]["expr"]
    assert rules[0]["labels"]["severity"] == "critical"


def test_combined_mode_monitoring_and_network_policy() -> None:
    out = render(SCENARIOS["combined-monitoring"])
    sm = out.get("ServiceMonitor", RELEASE)
    scraped = [s["metadata"]["name"] for s in out.all("Service")
               if labels_match(sm["spec"]["selector"]["matchLabels"], s["metadata"]["labels"])]
    assert scraped == [RELEASE]
    (np,) = out.all("NetworkPolicy")
    grpc_rule = np["spec"]["ingress"][0]
    assert grpc_rule["from"] == [{"namespaceSelector": {"matchLabels": {"team": "sre"}}}]
    assert grpc_rule["ports"] == [{"port": "grpc", "protocol": "TCP"}]


def test_network_policies() -> None:
    out = render(SCENARIOS["monitoring"])
    exp_labels = out.get("StatefulSet", EXPORTER)["spec"]["template"]["metadata"]["labels"]
    rul_labels = out.get("Deployment", RULER)["spec"]["template"]["metadata"]["labels"]
    exp_np = out.get("NetworkPolicy", EXPORTER)
    assert labels_match(exp_np["spec"]["podSelector"]["matchLabels"], exp_labels)
    assert not labels_match(exp_np["spec"]["podSelector"]["matchLabels"], rul_labels)
    assert exp_np["spec"]["policyTypes"] == ["Ingress", "Egress"]
    grpc_in, metrics_in = exp_np["spec"]["ingress"]
    (peer,) = grpc_in["from"]
    assert labels_match(peer["podSelector"]["matchLabels"], rul_labels)
    assert grpc_in["ports"] == [{"port": "grpc", "protocol": "TCP"}]
    assert metrics_in == {"ports": [{"port": "http", "protocol": "TCP"}]}
    dns, api = exp_np["spec"]["egress"]
    assert {p["port"] for p in dns["ports"]} == {53}
    assert api == {"ports": [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}]}

    rul_np = out.get("NetworkPolicy", RULER)
    assert labels_match(rul_np["spec"]["podSelector"]["matchLabels"], rul_labels)
    dns, to_exporter, sink = rul_np["spec"]["egress"]
    assert labels_match(to_exporter["to"][0]["podSelector"]["matchLabels"], exp_labels)
    assert to_exporter["ports"] == [{"port": 50051, "protocol": "TCP"}]
    assert sink == {"ports": [{"port": 9200, "protocol": "TCP"}]}
    assert not render({"networkPolicy": {"enabled": False}}).all("NetworkPolicy")


# --- secure by default ----------------------------------------------------------------


def generated_token(out: Rendered) -> str:
    secret = out.get("Secret", TOKEN_SECRET)
    assert secret["type"] == "Opaque"
    assert set(secret["data"]) == {"token"}
    return base64.b64decode(secret["data"]["token"]).decode()


def test_default_install_requires_a_generated_token() -> None:
    out = render()
    token = generated_token(out)
    assert re.fullmatch(r"[A-Za-z0-9]{48}", token), token
    assert generated_token(render()) != token, "each fresh install gets its own token"
    # the exporter requires it ...
    assert out.config()["exporter"]["grpc"] == {"authTokenFile": "/etc/herald/auth/token"}
    sts = out.get("StatefulSet", EXPORTER)
    assert volumes(sts)["auth"]["secret"] == {"secretName": TOKEN_SECRET,
                                              "items": [{"key": "token", "path": "token"}]}
    (exp,) = containers(sts)
    assert mounts(exp)["/etc/herald/auth"]["readOnly"] is True
    # ... and the rulers send it
    assert out.config()["ruler"]["authToken"] == "${HERALD_AUTH_TOKEN}"
    dep = out.get("Deployment", RULER)
    (rul,) = containers(dep)
    env = {e["name"]: e for e in rul["env"]}
    assert env["HERALD_AUTH_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": TOKEN_SECRET, "key": "token"}}
    annotations = dep["spec"]["template"]["metadata"]["annotations"]
    assert annotations["checksum/grpc-token"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in out.text.replace(out.get("Secret", TOKEN_SECRET)["data"]["token"], "")
    assert f"get secret {TOKEN_SECRET}" in out.notes
    # combined mode: the exporter half still requires it
    combined = render({"mode": "combined"})
    generated_token(combined)
    assert combined.config()["exporter"]["grpc"] == {"authTokenFile": "/etc/herald/auth/token"}
    # a Secret of the user's replaces the generated one
    own = render({"auth": {"existingSecret": "mine", "secretKey": "t"}})
    assert not own.all("Secret")
    assert volumes(own.get("StatefulSet", EXPORTER))["auth"]["secret"]["secretName"] == "mine"
    assert "checksum/grpc-token" not in own.get("Deployment", RULER)["spec"]["template"]["metadata"]["annotations"]


class FakeApiServer:
    """Answers what Helm's `lookup` asks a Kubernetes API server: discovery of `v1` and
    one Secret; anything else is a 404 Status. Records every request."""

    def __init__(self, secrets: dict[str, dict[str, Any]]) -> None:
        self.secrets = secrets
        self.requests: list[tuple[str, str]] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                fake.requests.append(("GET", self.path))
                path = self.path.split("?", 1)[0]
                if path == "/api":
                    self.reply(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
                elif path == "/apis":
                    self.reply(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
                elif path == "/api/v1":
                    self.reply(200, {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
                        {"name": "secrets", "singularName": "secret", "namespaced": True, "kind": "Secret",
                         "verbs": ["get", "list"]}]})
                elif path == "/version":
                    self.reply(200, {"major": "1", "minor": "33", "gitVersion": "v1.33.0"})
                elif path in fake.secrets:
                    self.reply(200, fake.secrets[path])
                else:
                    self.reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                     "reason": "NotFound", "code": 404, "message": f"{path} not found"})

            def reply(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeApiServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


def render_against(api: FakeApiServer, values: dict[str, Any] | None = None) -> Rendered:
    """Renders as `helm upgrade` does: `lookup` asks the (fake) cluster."""
    cfg = helm.Config(kube_apiserver=api.url, kube_token="test-token", namespace=NAMESPACE)
    try:
        raw = cfg.render(chart(), copy.deepcopy(values or {}), name=RELEASE, namespace=NAMESPACE,
                         is_upgrade=True)
    finally:
        cfg.close()
    out = Rendered.__new__(Rendered)
    out.values, out.raw = values or {}, raw
    out.text = manifests_text(raw)
    out.objects = [doc for doc in yaml.safe_load_all(out.text) if doc is not None]
    out.notes = next((t for p, t in raw.items() if p.endswith("NOTES.txt")), "")
    return out


def test_upgrades_keep_the_generated_token() -> None:
    path = f"/api/v1/namespaces/{NAMESPACE}/secrets/{TOKEN_SECRET}"
    kept = "k" * 40 + "12345678"
    existing = {"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": TOKEN_SECRET, "namespace": NAMESPACE},
                "type": "Opaque", "data": {"token": base64.b64encode(kept.encode()).decode()}}
    with FakeApiServer({path: existing}) as api:
        out = render_against(api)
    assert [r for r in api.requests if "/secrets/" in r[1]] == [("GET", path)]
    assert generated_token(out) == kept
    annotations = out.get("Deployment", RULER)["spec"]["template"]["metadata"]["annotations"]
    assert annotations["checksum/grpc-token"] == hashlib.sha256(kept.encode()).hexdigest()
    # no Secret yet (first install): a new random token
    with FakeApiServer({}) as api:
        fresh = generated_token(render_against(api))
    assert [r for r in api.requests if "/secrets/" in r[1]] == [("GET", path)]
    assert re.fullmatch(r"[A-Za-z0-9]{48}", fresh) and fresh != kept


def test_default_network_policy_admits_only_the_rulers_to_grpc() -> None:
    out = render()
    exp_labels = out.get("StatefulSet", EXPORTER)["spec"]["template"]["metadata"]["labels"]
    rul_labels = out.get("Deployment", RULER)["spec"]["template"]["metadata"]["labels"]
    np = out.get("NetworkPolicy", EXPORTER)
    assert labels_match(np["spec"]["podSelector"]["matchLabels"], exp_labels)
    assert np["spec"]["policyTypes"] == ["Ingress"]
    grpc_in, metrics_in = np["spec"]["ingress"]
    assert grpc_in["ports"] == [{"port": "grpc", "protocol": "TCP"}]
    (peer,) = grpc_in["from"]
    assert set(peer) == {"podSelector"}, "only pods of the release namespace"
    assert labels_match(peer["podSelector"]["matchLabels"], rul_labels)
    assert not labels_match(peer["podSelector"]["matchLabels"], exp_labels)
    assert metrics_in == {"ports": [{"port": "http", "protocol": "TCP"}]}
    assert "networkPolicy.grpcFrom" not in out.notes
    # listed consumers are admitted beside the rulers
    consumer = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}},
                "podSelector": {"matchLabels": {"app": "event-archiver"}}}
    opened = render({"networkPolicy": {"grpcFrom": [consumer]}})
    grpc_in = opened.get("NetworkPolicy", EXPORTER)["spec"]["ingress"][0]
    assert grpc_in["from"][1:] == [consumer]
    assert "networkPolicy.grpcFrom" in opened.notes
    # combined mode: no ruler pods, so nobody but the listed consumers
    combined = render({"mode": "combined"})
    (np,) = combined.all("NetworkPolicy")
    assert [rule["ports"] for rule in np["spec"]["ingress"]] == [[{"port": "http", "protocol": "TCP"}]]
    assert "nobody" in combined.notes


# --- documentation --------------------------------------------------------------------


def leaf_paths(node: Any, prefix: str = "") -> list[str]:
    """Value paths as the README documents them: maps are walked, anything else is a leaf."""
    if isinstance(node, dict) and node and prefix != "config":
        out: list[str] = []
        for key, value in node.items():
            out += leaf_paths(value, f"{prefix}.{key}" if prefix else key)
        return out
    return [prefix]


def test_readme_documents_every_value() -> None:
    readme = (CHART / "README.md").read_text()
    reference = readme.split("\n## Values reference\n", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([^`]+)` \|", reference, flags=re.M))
    assert len(documented) > 100
    missing = [p for p in leaf_paths(values_yaml())
               if p not in documented and not any(p.startswith(d + ".") for d in documented)]
    assert missing == [], f"values missing from README.md's reference: {missing}"
    stale = [d for d in documented if not any(p == d or p.startswith(d + ".") for p in leaf_paths(values_yaml()))]
    assert stale == [], f"README documents values that do not exist: {stale}"


def test_notes_give_the_grpc_address(scenario: Rendered) -> None:
    assert f".{NAMESPACE}.svc:50051" in scenario.notes


def test_grafana_dashboard_is_off_by_default_and_labelled_for_the_sidecar() -> None:
    assert not [c for c in render().all("ConfigMap") if c["metadata"]["name"].endswith("-dashboard")]
    out = render({"metrics": {"grafanaDashboard": {
        "enabled": True, "annotations": {"grafana_folder": "herald"}, "labels": {"team": "sre"}}}})
    cm = out.get("ConfigMap", f"{RELEASE}-dashboard")
    assert cm["metadata"]["namespace"] == NAMESPACE
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["labels"]["team"] == "sre"
    assert cm["metadata"]["annotations"] == {"grafana_folder": "herald"}
    dashboard = json.loads(cm["data"]["herald.json"])
    assert dashboard == json.loads((CHART / "dashboards" / "herald.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    for metric in ["herald_exporter_events_logged_total", "herald_exporter_ingest_lag_seconds_bucket",
                   "herald_exporter_log_bytes", "herald_exporter_group_lag", "herald_ruler_consumer_lag",
                   "herald_sink_sent_events_total", "herald_sink_errors_total",
                   "herald_sink_dropped_events_total", "herald_sink_request_duration_seconds_bucket",
                   "herald_exporter_watch_healthy", "herald_exporter_leader"]:
        assert any(metric in e for e in exprs), metric
    custom = render({"metrics": {"grafanaDashboard": {
        "enabled": True, "namespace": "monitoring", "sidecarLabel": "dashboards", "sidecarLabelValue": "herald"}}})
    cm = custom.get("ConfigMap", f"{RELEASE}-dashboard")
    assert cm["metadata"]["namespace"] == "monitoring"
    assert cm["metadata"]["labels"]["dashboards"] == "herald"
    assert "grafana_dashboard" not in cm["metadata"]["labels"]


RULE_OBJECTS_CONFIG = {
    "ruler": {"ruleObjects": {"enabled": True, "notificationReceivers": ["dump"]}},
}
RULES_RULE = {"apiGroups": ["events.kubesphere.io"], "resources": ["rules"], "verbs": ["get", "list", "watch"]}
RULES_STATUS_RULE = {"apiGroups": ["events.kubesphere.io"], "resources": ["rules/status"], "verbs": ["get", "patch"]}


def with_config(extra: dict[str, Any], **values: Any) -> dict[str, Any]:
    config = copy.deepcopy(values_yaml()["config"])
    config.update(copy.deepcopy(extra))
    return {"config": config, **values}


def test_rule_objects_bind_rbac_to_the_rulers_and_mount_their_token() -> None:
    out = render(with_config(RULE_OBJECTS_CONFIG))
    name = f"{CLUSTER_NAME}-rule-objects"
    role = out.get("ClusterRole", name)
    assert role["rules"] == [RULES_RULE, RULES_STATUS_RULE]
    binding = out.get("ClusterRoleBinding", name)
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": RULER, "namespace": NAMESPACE}]
    assert pod_spec(out.get("Deployment", RULER))["automountServiceAccountToken"] is True
    for kv in KUBE_VERSIONS:
        for obj in (role, binding):
            kubernetes_validate.validate(obj, kv, strict=True)
    # the events ClusterRole is unchanged
    assert out.get("ClusterRole", CLUSTER_NAME)["rules"] == [
        EVENTS_RULE, *DEFAULT_LOOKUP_RULES, PODS_WATCH_RULE, NAMESPACES_RULE]


def test_rule_objects_of_one_namespace_get_a_role_there() -> None:
    config = copy.deepcopy(RULE_OBJECTS_CONFIG)
    config["ruler"]["ruleObjects"]["namespace"] = "team-a"
    out = render(with_config(config))
    name = f"{RELEASE}-rule-objects"
    role = out.get("Role", name)
    assert role["metadata"]["namespace"] == "team-a"
    assert role["rules"] == [RULES_RULE, RULES_STATUS_RULE]
    binding = out.get("RoleBinding", name)
    assert binding["metadata"]["namespace"] == "team-a"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": RULER, "namespace": NAMESPACE}]
    assert not out.has("ClusterRole", f"{CLUSTER_NAME}-rule-objects")


def test_rule_objects_in_combined_mode_bind_the_combined_account() -> None:
    out = render(with_config(RULE_OBJECTS_CONFIG, mode="combined"))
    binding = out.get("ClusterRoleBinding", f"{CLUSTER_NAME}-rule-objects")
    (combined,) = out.workloads()
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": pod_spec(combined)["serviceAccountName"], "namespace": NAMESPACE}]


def test_without_rule_objects_the_rulers_have_no_rbac_and_no_token() -> None:
    out = render()
    assert not any(o["metadata"]["name"].endswith("-rule-objects") for o in out.objects)
    assert pod_spec(out.get("Deployment", RULER))["automountServiceAccountToken"] is False
    disabled = render(with_config({"ruler": {"ruleObjects": {"enabled": False}}}))
    assert not any(o["metadata"]["name"].endswith("-rule-objects") for o in disabled.objects)
    no_rbac = render(with_config(RULE_OBJECTS_CONFIG, rbac={"create": False}))
    assert not any(o["metadata"]["name"].endswith("-rule-objects") for o in no_rbac.objects)
    # the token is still mounted: RBAC is then the user's
    assert pod_spec(no_rbac.get("Deployment", RULER))["automountServiceAccountToken"] is True


def test_hooks_with_enrich_pod_let_the_rulers_get_pods() -> None:
    hook = {"source": "def transform(config, event):\n    return config\n", "enrichPod": True}
    receivers = [{"name": "dump", "stdout": {}}, {"name": "hooked", "stdout": {}, "hook": hook}]
    out = render(with_config({"receivers": receivers}))
    name = f"{CLUSTER_NAME}-hook-pods"
    role = out.get("ClusterRole", name)
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
    binding = out.get("ClusterRoleBinding", name)
    assert binding["roleRef"]["name"] == name
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": RULER, "namespace": NAMESPACE}]
    assert pod_spec(out.get("Deployment", RULER))["automountServiceAccountToken"] is True
    for kv in KUBE_VERSIONS:
        for obj in (role, binding):
            kubernetes_validate.validate(obj, kv, strict=True)
    # a hook without enrichPod needs no API access
    hook["enrichPod"] = False
    plain = render(with_config({"receivers": receivers}))
    assert not plain.has("ClusterRole", name)
    assert pod_spec(plain.get("Deployment", RULER))["automountServiceAccountToken"] is False


def test_the_rule_crd_is_kube_events_with_a_status_subresource() -> None:
    shipped = yaml.safe_load((CHART / "crds" / "events.kubesphere.io_rules.yaml").read_text())
    fixture = next(d for d in yaml.safe_load_all(
        (CHART.parents[1] / "rules" / "tests" / "fixtures" / "events.kubesphere.io_rules.yaml").read_text()) if d)
    assert shipped["metadata"]["name"] == "rules.events.kubesphere.io"
    (version,) = shipped["spec"]["versions"]
    (upstream,) = fixture["spec"]["versions"]
    assert version["subresources"] == {"status": {}}
    schema_props = version["schema"]["openAPIV3Schema"]["properties"]
    upstream_props = upstream["schema"]["openAPIV3Schema"]["properties"]
    # the spec is kube-events' to the letter; only the status gained fields
    assert schema_props["spec"] == upstream_props["spec"]
    assert {k: v for k, v in schema_props.items() if k != "status"} == {
        k: v for k, v in upstream_props.items() if k != "status"}
    assert set(schema_props["status"]["properties"]) == {"observedGeneration", "loadedRules", "errors"}
    assert {k: v for k, v in shipped["spec"].items() if k != "versions"} == {
        k: v for k, v in fixture["spec"].items() if k != "versions"}
    # Helm keeps crds/ out of templates: it is never rendered into the release
    assert not any(o["kind"] == "CustomResourceDefinition" for o in render().objects)
