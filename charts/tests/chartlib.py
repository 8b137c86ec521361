"""Shared helpers of the chart tests: the render scenarios and a thin layer over helm-python-sdk.

There is no `helm` binary here: helm-python-sdk binds Helm v4's Go SDK, so `lint` and
`Chart.render` are Helm's own code (schema validation included).
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "herald"
YAMLLINT_CONFIG = REPO / "charts" / ".yamllint"
RELEASE = "herald"
NAMESPACE = "monitoring"

# A kubernetes-event-exporter config as users write it: templated layouts (quoted),
# `${VAR}` secrets, regexes ending in `$`, nested routes, several sink types.
KEE_CONFIG: dict[str, Any] = {
    "logLevel": "warn",
    "logFormat": "json",
    "maxEventAgeSeconds": 60,
    "kubeQPS": 50,
    "kubeBurst": 100,
    "cacheSize": 1048576,
    "clusterName": "prod-eu-1",
    "metricsNamePrefix": "event_exporter_",
    "route": {
        "routes": [
            {"match": [{"receiver": "dump"}]},
            {
                "drop": [{"namespace": "kube-system"}, {"type": "Normal"}],
                "match": [{"kind": "Pod|Deployment", "reason": "^(BackOff|Failed)$", "receiver": "slack"}],
            },
            {"match": [{"labels": {"app": "payments"}, "receiver": "es"}]},
        ]
    },
    "receivers": [
        {"name": "dump", "stdout": {"deDot": True}},
        {
            "name": "slack",
            "slack": {
                "token": "${SLACK_TOKEN}",
                "channel": "#alerts",
                "message": "{{ .Message }}",
                "fields": {"namespace": "{{ .Namespace }}", "reason": "{{ .Reason | upper }}"},
            },
        },
        {
            "name": "es",
            "elasticsearch": {
                "hosts": ["https://es.example.com:9200"],
                "index": "kube-events-{2006-01-02}",
                "username": "${ES_USER}",
                "password": "${ES_PASSWORD}",
                "useEventID": True,
                "layout": {
                    "message": "{{ .Message }}",
                    "createdAt": "{{ .GetTimestampMs }}",
                    "involved": "{{ toJson .InvolvedObject }}",
                    "port": "8080",
                    "enabled": "true",
                },
                "tls": {"insecureSkipVerify": False},
            },
        },
    ],
}

# Scenario name -> values. Every test that checks all renders iterates over these.
SCENARIOS: dict[str, dict[str, Any]] = {
    "default": {},
    "leader-election": {"exporter": {"replicas": 2}},
    "combined": {"mode": "combined"},
    "namespace-scoped": {"config": {"namespace": "apps"}},
    "omit-lookup": {"config": {"omitLookup": True}},
    "tls-auth": {
        "tls": {"enabled": True, "exporterSecretName": "herald-exporter-tls", "clientAuth": True,
                "rulerSecretName": "herald-ruler-tls"},
        "auth": {"enabled": True, "existingSecret": "herald-grpc-token"},
    },
    "tls-ca-only": {"tls": {"enabled": True, "exporterSecretName": "herald-exporter-tls"}},
    "monitoring": {
        "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}},
                    "prometheusRule": {"enabled": True}},
        "networkPolicy": {"enabled": True, "egress": {"enabled": True,
                                                      "extraRules": [{"ports": [{"port": 9200, "protocol": "TCP"}]}]}},
    },
    "combined-monitoring": {
        "mode": "combined",
        "metrics": {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True}},
        "networkPolicy": {"enabled": True, "grpcFrom": [{"namespaceSelector": {"matchLabels": {"team": "sre"}}}]},
    },
    "hpa": {"ruler": {"autoscaling": {"enabled": True, "customMetric": {"enabled": True}}}},
    "kee-config": {"config": KEE_CONFIG, "extraEnvFrom": [{"secretRef": {"name": "sink-credentials"}}]},
    "no-persistence": {"exporter": {"persistence": {"enabled": False}}},
}


@functools.lru_cache(maxsize=1)
def chart() -> helm.Chart:
    """The chart, loaded once per test session."""
    return helm.Chart.load(str(CHART))


def render_raw(values: dict[str, Any] | None = None, *, name: str = RELEASE,
               namespace: str = NAMESPACE) -> dict[str, str]:
    """Template path -> rendered text, exactly as `helm template` would produce it."""
    return chart().render(copy.deepcopy(values or {}), name=name, namespace=namespace)


def manifests_text(rendered: dict[str, str]) -> str:
    """All rendered manifests as one multi-document YAML stream (NOTES.txt left out)."""
    parts = []
    for path in sorted(rendered):
        if path.endswith("NOTES.txt") or not rendered[path].strip():
            continue
        parts.append(f"# Source: {path}\n{rendered[path].strip()}\n")
    return "---\n".join(parts)


class Rendered:
    """The objects of one render, with lookups by kind and name."""

    def __init__(self, values: dict[str, Any] | None = None, *, name: str = RELEASE,
                 namespace: str = NAMESPACE) -> None:
        self.values = values or {}
        self.raw = render_raw(values, name=name, namespace=namespace)
        self.text = manifests_text(self.raw)
        self.objects: list[dict[str, Any]] = [
            doc for doc in yaml.safe_load_all(self.text) if doc is not None
        ]
        self.notes = next((t for p, t in self.raw.items() if p.endswith("NOTES.txt")), "")

    def kinds(self) -> set[tuple[str, str]]:
        return {(o["kind"], o["metadata"]["name"]) for o in self.objects}

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        found = [o for o in self.all(kind) if o["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}: {sorted(self.kinds())}"
        return found[0]

    def has(self, kind: str, name: str) -> bool:
        return (kind, name) in self.kinds()

    def config(self) -> dict[str, Any]:
        """herald's config file as the pods will read it."""
        cm = self.get("ConfigMap", f"{RELEASE}-config")
        return yaml.safe_load(cm["data"]["config.yaml"])

    def workloads(self) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] in ("Deployment", "StatefulSet")]


def render(values: dict[str, Any] | None = None, **kw: Any) -> Rendered:
    return Rendered(values, **kw)


def values_yaml() -> dict[str, Any]:
    return yaml.safe_load((CHART / "values.yaml").read_text())


def schema() -> dict[str, Any]:
    return json.loads((CHART / "values.schema.json").read_text())
