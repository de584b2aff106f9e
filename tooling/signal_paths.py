"""Every HPA signal's path, hop by hop, read from the objects a stack renders, for the plan.

An HPA gets a value only when every hop agrees: the server (or GKE's DCGM exporter) exports a
series; a ``PodMonitoring`` / ``ClusterPodMonitoring`` scrapes it on a named port (and may rename
it); Managed Prometheus writes it to Cloud Monitoring as ``prometheus.googleapis.com/<name>/<kind>``;
the custom-metrics adapter serves it to the HPA as ``prometheus.googleapis.com|<name>|<kind>``
(the adapter turns ``|`` into ``/``: k8s-stackdriver provider.go). One line per model and
signal says all of it, so an operator whose HPA shows ``<unknown>`` knows which Cloud Monitoring
metric to look up in Metrics Explorer. ``tests/reality/test_signal_path.py`` checks each hop
against the facts it rests on; this module only describes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

PROMETHEUS = "prometheus.googleapis.com"


@dataclass(frozen=True)
class SignalPath:
    hpa: str  # namespace/name
    hpa_type: str  # Pods | External
    adapter_metric: str  # the name the HPA asks for
    monitor: str  # Kind namespace/name of the monitor that writes it, or "none"
    port: str  # the monitor's endpoint port (a container port name)
    scraped: str  # the series name as the exporter exports it
    selector: dict[str, str]  # External: the HPA's selector

    @property
    def written(self) -> str:
        """The series name Managed Prometheus writes (the adapter metric's middle part)."""
        return self.adapter_metric.split("|")[1]

    @property
    def kind(self) -> str:
        return self.adapter_metric.split("|")[2]

    @property
    def cloud_monitoring_type(self) -> str:
        return self.adapter_metric.replace("|", "/")

    def line(self) -> str:
        renamed = f" (renamed {self.written}: no metadata, written untyped)" if self.scraped != self.written else ""
        scope = (
            "cluster, location and namespace added by the adapter"
            if self.hpa_type == "Pods"
            else "selector " + ",".join(f"{k}={v}" for k, v in sorted(self.selector.items()))
        )
        return (
            f"{self.hpa} {self.hpa_type}: {self.scraped} :{self.port} -> {self.monitor}{renamed} -> "
            f"{self.cloud_monitoring_type} -> {self.adapter_metric} ({scope})"
        )


def _pod_labels(manifests: list[dict], namespace: str, deployment: str) -> dict[str, str]:
    for m in manifests:
        meta = m.get("metadata") or {}
        if m["kind"] == "Deployment" and meta.get("namespace") == namespace and meta.get("name") == deployment:
            return m["spec"]["template"]["metadata"].get("labels") or {}
    return {}


def _renames(endpoint: dict) -> dict[str, str]:
    """written name -> scraped name, for ``replace`` rules onto ``__name__`` with a literal regex."""
    out = {}
    for rule in endpoint.get("metricRelabeling") or []:
        onto_name = rule.get("targetLabel") == "__name__" and rule.get("action", "replace") == "replace"
        if onto_name and re.fullmatch(r"[A-Za-z_:][A-Za-z0-9_:]*", rule.get("regex", "")):
            out[rule["replacement"]] = rule["regex"]
    return out


def _find(manifests: list[dict], kind: str, namespace: str, name: str) -> dict | None:
    for m in manifests:
        meta = m.get("metadata") or {}
        if m["kind"] == kind and meta.get("namespace") == namespace and meta.get("name") == name:
            return m
    return None


def picker_labels(manifests: list[dict], namespace: str, pool: str) -> dict[str, str]:
    """The pod labels of the endpoint picker of InferencePool ``namespace/pool`` (its
    ``endpointPickerRef`` Service's selector); empty when the pool or its Service is missing."""
    found = _find(manifests, "InferencePool", namespace, pool)
    ref = ((found or {}).get("spec") or {}).get("endpointPickerRef") or {}
    service = _find(manifests, "Service", namespace, ref.get("name", ""))
    return dict(((service or {}).get("spec") or {}).get("selector") or {})


def _monitor_for(manifests: list[dict], hpa: dict, metric: dict, external: bool) -> tuple[str, str, str]:
    """(monitor, port, scraped name) of the monitor that writes ``metric``'s series: a server's own
    PodMonitoring, the ClusterPodMonitoring renaming DCGM's series, or the PodMonitoring of the
    endpoint picker of the InferencePool an External metric selects by its ``name`` label."""
    ns = hpa["metadata"]["namespace"]
    written = metric["name"].split("|")[1]
    labels = _pod_labels(manifests, ns, hpa["spec"]["scaleTargetRef"]["name"])
    pool = ((metric.get("selector") or {}).get("matchLabels") or {}).get("metric.labels.name")
    if external and pool:
        labels, external = picker_labels(manifests, ns, pool), False
    for m in manifests:
        if m["kind"] not in ("PodMonitoring", "ClusterPodMonitoring"):
            continue
        meta = m["metadata"]
        for endpoint in m["spec"].get("endpoints") or []:
            renames = _renames(endpoint)
            if external and written in renames:
                where = f"{meta.get('namespace')}/{meta['name']}" if meta.get("namespace") else meta["name"]
                return f"{m['kind']} {where}", str(endpoint["port"]), renames[written]
            wanted = m["spec"]["selector"].get("matchLabels") or {}
            if not external and meta.get("namespace") == ns and labels and wanted.items() <= labels.items():
                return f"{m['kind']} {ns}/{meta['name']}", str(endpoint["port"]), written
    return "none", "?", written


def paths(manifests: list[dict[str, Any]]) -> list[SignalPath]:
    """One path per HPA metric of the rendered ``manifests`` (Kubernetes objects as sent)."""
    out = []
    hpas = [m for m in manifests if m["kind"] == "HorizontalPodAutoscaler"]
    for hpa in sorted(hpas, key=lambda m: (m["metadata"].get("namespace", ""), m["metadata"]["name"])):
        where = f"{hpa['metadata']['namespace']}/{hpa['metadata']['name']}"
        for entry in hpa["spec"].get("metrics") or []:
            kind = entry["type"]
            body = entry.get("pods") or entry.get("external") or {}
            metric = body.get("metric") or {}
            if not metric.get("name", "").startswith(PROMETHEUS + "|"):
                continue
            monitor, port, scraped = _monitor_for(manifests, hpa, metric, kind == "External")
            selector = (metric.get("selector") or {}).get("matchLabels") or {}
            out.append(SignalPath(where, kind, metric["name"], monitor, port, scraped, dict(selector)))
    return out


def hold_lines(cfg: Any) -> list[str]:
    """One line per HPA that pairs signals present in different pod states: there it holds its
    replicas (``infra.signals.held_states``), and the line says while what and why."""
    from infra import signals

    out = []
    for model in cfg.models:
        if model.autoscaling is None or len(model.autoscaling.signals) < 2:
            continue
        entries = [signals.resolve(s.signal, model.server) for s in model.autoscaling.signals]
        held = signals.held_states(entries, model.server)
        if not held:
            continue
        where = ", ".join(
            f"{e.name} ({e.metric or '?'}: {'/'.join(signals.present_in(e, model.server))})" for e in entries
        )
        out.append(
            f"  holds: {cfg.identity.namespace}/{model.name} does not scale down while every pod is "
            f"{' or '.join(held)}: its signals exist in different states ({where}); Kubernetes skips a "
            "scale-down while any metric is missing"
        )
    return out
