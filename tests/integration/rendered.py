"""The serving objects exactly as the example stacks render them (``tests.conftest.stack_capture``:
the program run under Pulumi mocks, every resource's inputs recorded), grouped per server.

Stacks that render a server identically once its bucket path is set aside share one run: dev
and prod serve the same Triton container from different buckets, for instance.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from tests.conftest import STACKS, stack_capture
from tests.integration import writes

SERVER_LABEL = "gke-gpu-serving/server"
GMP = "prometheus.googleapis.com"


@dataclass(frozen=True)
class Render:
    stacks: tuple[str, ...]
    model: str
    container: dict
    volumes: tuple[dict, ...]  # the pod's volumes
    config: dict  # the model's ConfigMap data ({} without one)
    scrape: dict  # the PodMonitoring endpoint: {"port": name, "path": ...}
    hpa_metrics: tuple[tuple[str, str], ...]  # (metric, kind) of every Pods metric of its HPAs
    dashboard_metrics: tuple[tuple[str, str], ...]  # (metric, type the query assumes)

    @property
    def id(self) -> str:
        return f"{self.model}@{'+'.join(self.stacks)}"

    def writable(self) -> tuple[str, ...]:
        """Where the container may write: its emptyDir mounts (its root file system is read-only)."""
        return writes.writable_mounts(list(self.volumes), self.container)

    def port(self, name: str) -> int:
        return next(p["containerPort"] for p in self.container["ports"] if p["name"] == name)

    def used_metrics(self) -> dict[str, str]:
        """Every metric name the HPAs and the dashboard read from this server -> its type."""
        return dict(sorted({*self.hpa_metrics, *self.dashboard_metrics}))


def _hpa_metrics(capture, model: str) -> set[tuple[str, str]]:
    out = set()
    for hpa in capture.of_type("kubernetes:autoscaling/v2:HorizontalPodAutoscaler"):
        if hpa.inputs["metadata"]["name"] != model:
            continue
        for m in hpa.inputs["spec"]["metrics"]:
            if m["type"] == "Pods":
                _, metric, kind = m["pods"]["metric"]["name"].split("|")
                out.add((metric, kind))
    return out


def dashboard_metrics(dashboard_json: str, model: str) -> set[tuple[str, str]]:
    """``{__name__="..."}`` selectors of this model's pods in the dashboard's PromQL, with the type
    each query treats it as: ``..._bucket`` under histogram_quantile a histogram, a ``rate()`` a
    counter, anything else a gauge."""
    out = set()
    pods = f'pod=~"{model}-.*"'
    for tile in json.loads(dashboard_json)["mosaicLayout"]["tiles"]:
        for data in tile["widget"].get("xyChart", {}).get("dataSets", []):
            query = data["timeSeriesQuery"]["prometheusQuery"]
            for name, selector in re.findall(r'\{__name__="([^"]+)",([^}]*)\}', query):
                if pods not in selector:
                    continue
                if name.endswith("_bucket") and "histogram_quantile" in query:
                    out.add((name.removesuffix("_bucket"), "histogram"))
                elif f'rate({{__name__="{name}"' in query:
                    out.add((name, "counter"))
                else:
                    out.add((name, "gauge"))
    return out


def _group_key(container: dict, config: dict) -> str:
    def strip(value: str) -> str:
        return re.sub(r"gs://[^ ]*", "gs://<bucket>", value)

    c = {k: container.get(k) for k in ("command", "args", "env", "ports", "startupProbe", "readinessProbe")}
    c["volumeMounts"] = container.get("volumeMounts")
    c["livenessProbe"] = container.get("livenessProbe")
    c["args"] = [strip(a) for a in c["args"] or []]
    return json.dumps([c, config], sort_keys=True)


def renders(server: str) -> list[Render]:
    groups: dict[str, dict] = {}
    for stack in STACKS:
        capture = stack_capture(stack)
        dashboards = capture.of_type("gcp:monitoring/dashboard:Dashboard")
        for dep in capture.of_type("kubernetes:apps/v1:Deployment"):
            meta = dep.inputs["spec"]["template"]["metadata"]
            if meta["labels"].get(SERVER_LABEL) != server:
                continue
            model = dep.inputs["metadata"]["name"]
            pod = dep.inputs["spec"]["template"]["spec"]
            container = pod["containers"][0]
            maps = [
                c.inputs.get("data", {})
                for c in capture.of_type("kubernetes:core/v1:ConfigMap")
                if c.inputs["metadata"]["name"] == f"{model}-config"
            ]
            config = maps[0] if maps else {}
            monitors = [
                r.inputs["spec"]["endpoints"][0]
                for r in capture.kubernetes_objects()
                if r.inputs.get("kind") == "PodMonitoring" and r.inputs["metadata"]["name"] == model
            ]
            group = groups.setdefault(
                _group_key(container, config),
                {
                    "stacks": [],
                    "model": model,
                    "container": container,
                    "volumes": tuple(pod.get("volumes", ())),
                    "config": config,
                    "scrape": monitors[0] if monitors else {},
                    "hpa": set(),
                    "dashboard": set(),
                },
            )
            group["stacks"].append(stack)
            group["hpa"] |= _hpa_metrics(capture, model)
            for d in dashboards:
                group["dashboard"] |= dashboard_metrics(d.inputs["dashboardJson"], model)
    return [
        Render(
            stacks=tuple(g["stacks"]),
            model=g["model"],
            container=g["container"],
            volumes=g["volumes"],
            config=g["config"],
            scrape=g["scrape"],
            hpa_metrics=tuple(sorted(g["hpa"])),
            dashboard_metrics=tuple(sorted(g["dashboard"])),
        )
        for g in groups.values()
    ]
