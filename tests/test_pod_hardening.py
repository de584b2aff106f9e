"""The pods of the example stacks (and of a stack running the load generator) as hardened as each
image allows: no service account token where nothing calls the Kubernetes API, read-only root file
systems with size-limited emptyDirs where the servers write."""

from __future__ import annotations

from functools import cache

import pytest

from infra import metrics
from infra.config import parse_quantity
from tests.conftest import STACKS, raw_with, run_raw, stack_capture
from workloads import jobs, pod

WORKLOAD_TYPES = ("kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:Job")
ADAPTER = f"{metrics.NAMESPACE}/{metrics.KSA}"


@cache
def load_test_capture():
    return run_raw(raw_with(loadTest={"enabled": True, "model": "t5-small"}))


def captures():
    return [*((s, stack_capture(s)) for s in STACKS), ("dev+loadTest", load_test_capture())]


def pods():
    """(id, pod spec) of every workload the program renders."""
    out = []
    for label, capture in captures():
        for r in capture.resources:
            if r.type in WORKLOAD_TYPES:
                meta = r.inputs["metadata"]
                out.append(
                    pytest.param(r.inputs["spec"]["template"]["spec"], id=f"{label}:{meta['namespace']}/{meta['name']}")
                )
    return out


def test_the_load_generator_is_among_the_pods_checked():
    assert any("loadtest" in p.id for p in pods())


@pytest.mark.parametrize("spec", pods())
def test_only_the_kubernetes_api_clients_mount_a_service_account_token(spec, request):
    # The metrics adapter and each gateway model's endpoint picker call the Kubernetes API.
    workload = request.node.callspec.id.split(":", 1)[1]
    client = workload == ADAPTER or workload.endswith("-epp")
    assert (spec.get("automountServiceAccountToken") is not False) == client


# Read-only root file systems ------------------------------------------------------------------


def containers():
    """(id, pod spec, container) of every container the program renders."""
    out = []
    for label, capture in captures():
        for r in capture.resources:
            if r.type in WORKLOAD_TYPES:
                meta, spec = r.inputs["metadata"], r.inputs["spec"]["template"]["spec"]
                for c in spec["containers"]:
                    out.append(pytest.param(spec, c, id=f"{label}:{meta['namespace']}/{meta['name']}:{c['name']}"))
    return out


@pytest.mark.parametrize(("spec", "container"), containers())
def test_every_root_is_read_only_but_the_root_converters(spec, container):
    """The one exception is an image in jobs.ROOT_IMAGES: it writes into its own folders."""
    read_only = container["securityContext"].get("readOnlyRootFilesystem")
    assert read_only is (not jobs.runs_as_root(container["image"]))


def _disk_empty_dirs(spec: dict) -> dict[str, dict]:
    return {
        v["name"]: v["emptyDir"]
        for v in spec.get("volumes", [])
        if "emptyDir" in v and v["emptyDir"].get("medium") != "Memory"
    }


@pytest.mark.parametrize(("spec", "container"), [c for c in containers() if ADAPTER not in c.id])
def test_every_disk_empty_dir_has_a_size_limit(spec, container):
    """The adapter's certificate emptyDir is upstream's manifest as infra/metrics.py renders it."""
    assert all("sizeLimit" in e for e in _disk_empty_dirs(spec).values())


@pytest.mark.parametrize(("spec", "container"), [c for c in containers() if ADAPTER not in c.id])
def test_empty_dirs_and_the_containers_logs_fit_its_ephemeral_storage(spec, container):
    """Every pod here has one container: its emptyDirs' limits plus its own log files stay within
    its ephemeral-storage request (= limit), so a full directory is evicted for its own limit."""
    total = sum(parse_quantity(e["sizeLimit"]) for e in _disk_empty_dirs(spec).values())
    assert total + pod.CONTAINER_LOGS <= parse_quantity(container["resources"]["requests"]["ephemeral-storage"])


def read_only_containers():
    return [c for c in containers() if ADAPTER not in c.id and not jobs.runs_as_root(c.values[1]["image"])]


@pytest.mark.parametrize(("spec", "container"), read_only_containers())
def test_a_read_only_container_has_a_writable_tmp(spec, container):
    """Every image here writes to /tmp, or may (the predictor, front end, Locust and conversion
    images are not run here): each read-only container mounts an emptyDir there."""
    empty = _disk_empty_dirs(spec)
    assert any(m["mountPath"] == "/tmp" and m["name"] in empty for m in container["volumeMounts"])


# Scratch directory sizes (pod.scratch_sizes) ---------------------------------------------------

MAIN, LOGS = pod.Scratch("main", "/data"), pod.Scratch("logs", "/logs", "2Gi")


@pytest.mark.parametrize("ephemeral", ["1Gi", "10Gi", "50Gi", "100Mi"])
def test_scratch_sizes_add_up_to_no_more_than_the_budget(ephemeral):
    sizes = pod.scratch_sizes(ephemeral, (MAIN, LOGS, pod.Scratch("tmp", "/tmp", "1Gi")))
    assert sum(sizes.values()) <= parse_quantity(ephemeral) - pod.CONTAINER_LOGS


def test_a_sized_scratch_dir_gets_its_size_when_the_budget_allows():
    assert pod.scratch_sizes("10Gi", (MAIN, LOGS))["logs"] == 2 * 2**30


def test_sized_scratch_dirs_take_at_most_half_the_budget():
    budget = parse_quantity("1Gi") - pod.CONTAINER_LOGS
    sizes = pod.scratch_sizes("1Gi", (MAIN, LOGS, pod.Scratch("tmp", "/tmp", "1Gi")))
    assert sizes["logs"] + sizes["tmp"] <= budget / 2 <= sizes["main"]


def test_the_unsized_scratch_dir_takes_the_rest():
    sizes = pod.scratch_sizes("10Gi", (MAIN, LOGS))
    assert sizes["main"] == parse_quantity("10Gi") - pod.CONTAINER_LOGS - sizes["logs"]


def test_scratch_sizes_are_whole_mebibytes():
    assert all(v % pod.MI == 0 for v in pod.scratch_sizes("1000M", (MAIN, LOGS)).values())


@pytest.mark.parametrize("dirs", [(LOGS,), (MAIN, pod.Scratch("other", "/other"))])
def test_exactly_one_scratch_dir_takes_the_rest(dirs):
    with pytest.raises(ValueError, match="exactly one scratch directory takes the rest"):
        pod.scratch_sizes("10Gi", dirs)


def test_an_ephemeral_storage_below_the_containers_logs_is_refused():
    with pytest.raises(ValueError, match="leaves nothing for /data"):
        pod.scratch_sizes("40Mi", (MAIN,))
