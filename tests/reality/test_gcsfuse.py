"""The GCS FUSE mounts as rendered, against the two sources that consume them: gcsfuse's own
parameter table (every mount option a real parameter, its value of the parameter's type) and the
CSI driver's webhook (every ``gke-gcsfuse/`` annotation one it reads, and the sidecar resources it
derives from them, by its ``populateResource`` rules, are what the capacity model reserves).
Sources and commits: tests/fixtures/gcsfuse/*.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra import capacity, catalog
from infra.config.values import parse_quantity
from tests.conftest import STACKS, as_pulumi_config, stack_capture
from tests.reality.captures import variant_capture, variant_raws
from tooling import offline, plan_diff

FIXTURES = Path(__file__).parent.parent / "fixtures" / "gcsfuse"
PARAMS = {p["config-path"]: p for p in json.loads((FIXTURES / "params.json").read_text())["params"]}
FLAGS = {p["flag-name"]: p for p in PARAMS.values()}
WEBHOOK = json.loads((FIXTURES / "webhook.json").read_text())
PREFIX = WEBHOOK["annotationPrefix"]["value"]
RESOURCES = set(WEBHOOK["resourceAnnotations"]["names"])
DEFAULTS = WEBHOOK["defaults"]
DRIVER = "gcsfuse.csi.storage.gke.io"
MIB = 2**20


def _captures():
    out = [(stack, stack_capture(stack)) for stack in STACKS]
    return out + [(name, variant_capture(name)) for name in variant_raws()]


def _fuse_pods():
    """(id, capture name, deployment name, pod template) of every pod that mounts a bucket."""
    out = []
    for name, capture in _captures():
        for dep in capture.of_type("kubernetes:apps/v1:Deployment"):
            template = dep.inputs["spec"]["template"]
            if any((v.get("csi") or {}).get("driver") == DRIVER for v in template["spec"].get("volumes", [])):
                out.append(pytest.param(name, dep.name, template, id=f"{name}:{dep.name}"))
    return out


FUSE_PODS = _fuse_pods()


def _options(template: dict) -> list[str]:
    volume = next(v for v in template["spec"]["volumes"] if (v.get("csi") or {}).get("driver") == DRIVER)
    return volume["csi"]["volumeAttributes"]["mountOptions"].split(",")


def _param(option: str) -> tuple[dict | None, str | None]:
    """The gcsfuse parameter a CSI mount option sets and its value: ``flag=value``, a bare
    boolean ``flag``, or the config-file form ``section:key:value``."""
    if "=" in option:
        flag, value = option.split("=", 1)
        return FLAGS.get(flag), value
    if ":" in option:
        *path, value = option.split(":")
        return PARAMS.get(".".join(path)), value
    return FLAGS.get(option), "true"


def _typed(param: dict, value: str) -> bool:
    if param["type"] == "bool":
        return value in ("true", "false")
    if param["type"] == "int":
        try:
            return int(value) >= param.get("min", 0)
        except ValueError:
            return False
    return bool(value)


def _sidecar(annotations: dict[str, str]) -> dict[str, float]:
    """The sidecar's requests as the webhook sets them (pkg/webhook/config.go populateResource):
    no annotation -> the defaults; a limit alone -> the request equals it, unless the limit is "0"
    (none), when the request keeps its default; a request alone -> the limit equals it."""
    out = {}
    for resource, default in (("cpu", DEFAULTS["cpu"]), ("memory", DEFAULTS["memory"])):
        out[resource] = _request(annotations, resource, default)
    out["ephemeral-storage"] = _request(annotations, "ephemeral-storage", DEFAULTS["ephemeralStorage"])
    return out


def _request(annotations: dict[str, str], resource: str, default: str) -> float:
    request = annotations.get(f"{PREFIX}{resource}-request")
    limit = annotations.get(f"{PREFIX}{resource}-limit")
    if request is not None:
        return parse_quantity(request)
    if limit is not None and parse_quantity(limit) != 0:
        return parse_quantity(limit)
    return parse_quantity(default)


def _model(capture_name: str, deployment: str):
    raw = variant_raws().get(capture_name)
    if raw is None:
        config_map, _ = offline.read_stack_config(capture_name)
    else:
        config_map = as_pulumi_config(raw)
    cfg = plan_diff.stack_config_of(config_map)
    return next(m for m in cfg.models if deployment == f"model-{m.name}-deployment")


def test_some_rendered_pods_cache_their_bucket():
    cached = [p for p in FUSE_PODS if any(o.startswith("file-cache:max-size-mb:") for o in _options(p.values[2]))]
    assert len(cached) >= 2


@pytest.mark.parametrize(("capture", "deployment", "template"), FUSE_PODS)
def test_every_mount_option_is_a_gcsfuse_parameter_of_its_type(capture, deployment, template):
    bad = [o for o in _options(template) if (p := _param(o))[0] is None or not _typed(p[0], p[1])]
    assert bad == []


@pytest.mark.parametrize(("capture", "deployment", "template"), FUSE_PODS)
def test_every_sidecar_annotation_is_one_the_webhook_reads(capture, deployment, template):
    notes = template["metadata"].get("annotations") or {}
    ours = {k[len(PREFIX) :]: v for k, v in notes.items() if k.startswith(PREFIX) and k != f"{PREFIX}volumes"}
    assert {k: v for k, v in ours.items() if k not in RESOURCES or parse_quantity(v) < 0} == {}


@pytest.mark.parametrize(("capture", "deployment", "template"), FUSE_PODS)
def test_a_disk_cache_fits_the_sidecars_ephemeral_storage(capture, deployment, template):
    """GKE counts the sidecar's cache emptyDir against its ephemeral storage: the limit must
    hold the cache and the sidecar's own default share."""
    notes = template["metadata"].get("annotations") or {}
    size = next((int(o.rsplit(":", 1)[1]) for o in _options(template) if o.startswith("file-cache:max-size-mb:")), 0)
    own = any(v["name"] == WEBHOOK["cacheVolume"]["value"] for v in template["spec"]["volumes"])
    if size == 0 or own:
        pytest.skip("no disk cache on this pod")
    limit = notes.get(f"{PREFIX}ephemeral-storage-limit", DEFAULTS["ephemeralStorage"])
    assert parse_quantity(limit) >= size * MIB + parse_quantity(DEFAULTS["ephemeralStorage"])


@pytest.mark.parametrize(("capture", "deployment", "template"), FUSE_PODS)
def test_a_memory_cache_is_the_webhooks_cache_volume_in_memory_sized_as_the_cache(capture, deployment, template):
    volume = next((v for v in template["spec"]["volumes"] if v["name"] == WEBHOOK["cacheVolume"]["value"]), None)
    if volume is None:
        pytest.skip("no pod-provided cache volume")
    size = next(int(o.rsplit(":", 1)[1]) for o in _options(template) if o.startswith("file-cache:max-size-mb:"))
    assert (volume["emptyDir"]["medium"], parse_quantity(volume["emptyDir"]["sizeLimit"])) == ("Memory", size * MIB)


@pytest.mark.parametrize(("capture", "deployment", "template"), FUSE_PODS)
def test_the_capacity_model_reserves_what_the_webhook_gives_the_sidecar(capture, deployment, template):
    model = _model(capture, deployment)
    webhook = _sidecar(template["metadata"].get("annotations") or {})
    pod = capacity.model_need(model)
    container = next(c for c in template["spec"]["containers"] if c["name"] == "server")["resources"]["requests"]
    reserved = {
        "cpu": pod.cpu - parse_quantity(container["cpu"]),
        "memory": (pod.memory_gib * 2**30) - parse_quantity(container["memory"]),
        "ephemeral-storage": (pod.ephemeral_gib * 2**30) - parse_quantity(container["ephemeral-storage"]),
    }
    assert {k: round(v / (MIB if k != "cpu" else 1), 2) for k, v in reserved.items()} == {
        k: round(v / (MIB if k != "cpu" else 1), 2) for k, v in webhook.items()
    }


def test_the_webhook_defaults_are_the_catalogs_sidecar():
    gib = 2**30
    assert (
        parse_quantity(DEFAULTS["cpu"]),
        parse_quantity(DEFAULTS["memory"]) / gib,
        parse_quantity(DEFAULTS["ephemeralStorage"]) / gib,
    ) == (catalog.GCSFUSE_SIDECAR.cpu, catalog.GCSFUSE_SIDECAR.memory_gib, catalog.GCSFUSE_SIDECAR.ephemeral_gib)


def test_a_streamed_model_mounts_no_bucket_and_reads_it_as_its_own_account():
    capture = variant_capture("fuse-cache")
    dep = capture.one("kubernetes:apps/v1:Deployment", "model-llm-stream-deployment")
    volumes = dep.inputs["spec"]["template"]["spec"]["volumes"]
    grants = [
        r.inputs["role"]
        for r in capture.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")
        if "gpu-serving-dev-llm-stream@" in r.inputs["member"]
    ]
    assert (any("csi" in v for v in volumes), grants) == (False, ["roles/storage.objectViewer"])
