"""Cold start: the config rules of weightsGb / fuseCache / vllm.loadFormat, the FUSE cache a pod
gets (mount options, sidecar annotations, capacity), the time-to-first-answer estimate, and the
startup probe budget derived from it. The rendered mounts are checked against gcsfuse's parameter
table and the CSI webhook in tests/reality/test_gcsfuse.py; vLLM's parser takes the streamer's
args in tests/integration/test_vllm_streamer.py."""

from __future__ import annotations

import math

import pytest

from infra import capacity, coldstart, config
from tests.conftest import base_raw, raw_with, run_raw
from tests.test_config import NS, only_line_for
from tooling import first_answer

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
VLLM = {"name": "llm", "server": "vllm", "gpu": {"type": "nvidia-tesla-t4", "count": 1}, "source": "gs://{models}/llm"}


def _raw(**model) -> dict:
    return raw_with(models=[*base_raw()["models"], {**VLLM, **model}])


def _model(**model) -> config.ModelConfig:
    return config.parse(_raw(**model)).models[1]


def _cfg(**model) -> config.StackConfig:
    return config.parse(_raw(**model))


def _pod(capture, name: str = "llm") -> dict:
    return capture.one(DEPLOYMENT, f"model-{name}-deployment").inputs["spec"]["template"]


# Config rules ----------------------------------------------------------------------------------


def test_a_cache_on_a_model_that_mounts_no_bucket_is_refused():
    line = only_line_for(
        _raw(source="hf://org/m", fuseCache={"medium": "disk", "size": "1Gi"}), f"{NS}:models[1].fuseCache"
    )
    assert "mounts no bucket" in line


def test_a_cache_needs_a_size_or_the_weights_size():
    line = only_line_for(_raw(fuseCache={"medium": "disk"}), f"{NS}:models[1].fuseCache.size")
    assert "set weightsGb or fuseCache.size" in line


def test_a_size_with_medium_none_is_refused():
    line = only_line_for(_raw(fuseCache={"medium": "none", "size": "1Gi"}), f"{NS}:models[1].fuseCache.size")
    assert "medium: none" in line


def test_the_streamer_reads_gs_only():
    raw = _raw(source="hf://org/m", image="r/vllm:1", vllm={"loadFormat": "runai_streamer"})
    assert "from gs:// only" in only_line_for(raw, f"{NS}:models[1].vllm.loadFormat")


def test_the_streamer_needs_an_image_that_installs_it():
    line = only_line_for(_raw(vllm={"loadFormat": "runai_streamer"}), f"{NS}:models[1].image")
    assert "runai-model-streamer-gcs" in line


def test_a_streamed_model_may_not_configure_a_fuse_cache():
    raw = _raw(image="r/vllm:1", vllm={"loadFormat": "runai_streamer"}, fuseCache={"size": "1Gi"})
    assert "streams its weights" in only_line_for(raw, f"{NS}:models[1].fuseCache")


# The cache a pod gets --------------------------------------------------------------------------


def test_known_weights_get_a_disk_cache_ten_percent_larger():
    assert coldstart.fuse_mount(_model(weightsGb=10), autopilot=False).options[0] == (
        f"file-cache:max-size-mb:{math.ceil(10e9 * 1.1 / 2**20)}"
    )


def test_unknown_weights_get_no_cache():
    assert coldstart.fuse_mount(_model(), autopilot=False) == coldstart.FuseMount()


def test_a_polled_triton_repository_keeps_expiring_metadata():
    model = config.parse(
        raw_with(
            models=[
                {
                    "name": "onnx",
                    "server": "triton",
                    "gpu": {"type": "nvidia-tesla-t4", "count": 1},
                    "source": "gs://{models}/repo",
                    "weightsGb": 1,
                    "triton": {"repository": "fuse", "modelControlMode": "poll"},
                }
            ]
        )
    ).models[0]
    assert not any(o.startswith("metadata-cache:") for o in coldstart.fuse_mount(model, autopilot=False).options)


def test_autopilot_keeps_the_sidecars_cpu_limit():
    notes = dict(coldstart.fuse_mount(_model(weightsGb=10), autopilot=True).annotations)
    assert "gke-gcsfuse/cpu-limit" not in notes


def test_standard_lifts_the_sidecars_cpu_limit_for_parallel_downloads():
    assert dict(coldstart.fuse_mount(_model(weightsGb=10), autopilot=False).annotations)["gke-gcsfuse/cpu-limit"] == "0"


def test_no_parallel_downloads_keeps_the_cpu_limit_and_the_option_off():
    mount = coldstart.fuse_mount(_model(weightsGb=10, fuseCache={"parallelDownloads": False}), autopilot=False)
    assert (
        "gke-gcsfuse/cpu-limit" in dict(mount.annotations),
        "file-cache:enable-parallel-downloads:true" in mount.options,
    ) == (
        False,
        False,
    )


def test_a_disk_cache_is_reserved_as_the_sidecars_ephemeral_storage():
    assert capacity.model_need(_model(weightsGb=10)).ephemeral_gib - capacity.model_need(_model()).ephemeral_gib == (
        pytest.approx(math.ceil(10e9 * 1.1 / 2**20) / 1024)
    )


def test_a_memory_cache_is_reserved_as_the_sidecars_memory():
    need = capacity.model_need(_model(weightsGb=1, fuseCache={"medium": "memory"}))
    assert need.memory_gib - capacity.model_need(_model()).memory_gib == pytest.approx(
        math.ceil(1e9 * 1.1 / 2**20) / 1024
    )


def test_a_cache_too_large_for_the_node_is_a_capacity_error():
    line = only_line_for(_raw(weightsGb=60), f"{NS}:models[1].resources.ephemeralStorage")
    assert "with the GCS FUSE sidecar" in line and "diskSizeGb" in line


def test_the_rendered_pod_mounts_the_cache_and_annotates_the_sidecar():
    template = _pod(run_raw(_raw(weightsGb=10)))
    options = template["spec"]["volumes"][0]["csi"]["volumeAttributes"]["mountOptions"]
    assert (
        "file-cache:enable-parallel-downloads:true" in options,
        "gke-gcsfuse/ephemeral-storage-limit" in template["metadata"]["annotations"],
    ) == (
        True,
        True,
    )


def test_a_streamed_model_passes_the_bucket_uri_and_the_load_format():
    args = _pod(run_raw(_raw(image="r/vllm:1", vllm={"loadFormat": "runai_streamer"})))["spec"]["containers"][0]["args"]
    assert (args[0].startswith("--model=gs://"), args[-1]) == (True, "--load-format=runai_streamer")


# The estimate and the budget -------------------------------------------------------------------


def test_parallel_downloads_read_at_the_node_or_the_benchmark_whichever_is_lower():
    step = coldstart.estimate(_cfg(weightsGb=14.2), _model(weightsGb=14.2), streamed=True).steps[2]
    # n1-standard-8: 8 vCPUs x 2 Gbps = 16 Gbps = 2,000 MB/s, above one reader's 1,419.8 MB/s.
    assert step.seconds == pytest.approx(14_200 / 1_419.8)


def test_without_parallel_downloads_the_read_is_nine_times_slower():
    model = _model(weightsGb=14.2, fuseCache={"parallelDownloads": False})
    step = coldstart.estimate(_cfg(weightsGb=14.2, fuseCache={"parallelDownloads": False}), model, streamed=True)
    assert step.steps[2].seconds == pytest.approx(9 * 14_200 / 1_419.8)


def test_the_hub_download_uses_the_labelled_assumption():
    cfg = _cfg(source="hf://org/m", weightsGb=5)
    step = coldstart.estimate(cfg, cfg.models[1], streamed=True).steps[2]
    assert (step.seconds, "assumption" in step.basis) == (5_000 / coldstart.HF_MB_S, True)


def test_a_streamed_image_takes_seconds_and_an_unstreamed_one_needs_its_size():
    model = _model(weightsGb=1)
    assert (coldstart._image(model, True).seconds, coldstart._image(model, False).seconds) == (
        coldstart.STREAMED_IMAGE_SECONDS,
        None,
    )


def test_the_budget_is_twice_load_and_start_rounded_up_to_a_minute():
    cfg = _cfg(source="hf://org/m", weightsGb=14.5)
    cold = coldstart.estimate(cfg, cfg.models[1], streamed=True)
    assert cold.budget == 60 * math.ceil(2 * (14_500 / coldstart.HF_MB_S + coldstart.START_SECONDS["vllm"]) / 60)


def test_a_small_model_gets_the_least_budget():
    assert coldstart.estimate(_cfg(weightsGb=0.1), _model(weightsGb=0.1), streamed=True).budget == (
        coldstart.MIN_BUDGET_SECONDS
    )


def test_without_weights_the_server_default_stays():
    cold = coldstart.estimate(_cfg(), _model(), streamed=True)
    assert coldstart.startup_seconds(cold, 1800) == 1800


def test_an_explicit_budget_wins():
    cold = coldstart.estimate(
        _cfg(weightsGb=14.5, startupSeconds=3600), _model(weightsGb=14.5, startupSeconds=3600), streamed=True
    )
    assert coldstart.startup_seconds(cold, 1800) == 3600


def test_the_rendered_startup_probe_allows_the_derived_budget():
    capture = run_raw(_raw(source="hf://org/m", weightsGb=14.5))
    cfg = _cfg(source="hf://org/m", weightsGb=14.5)
    derived = coldstart.estimate(cfg, cfg.models[1], streamed=False).budget
    assert first_answer.rendered_budget(_pod(capture)["spec"]) == derived


def test_the_plan_warns_when_the_configured_budget_is_below_the_estimate():
    cfg = _cfg(source="hf://org/m", weightsGb=14.5, startupSeconds=60)
    text = "\n".join(first_answer.lines(cfg, run_raw(_raw(source="hf://org/m", weightsGb=14.5, startupSeconds=60))))
    assert "WARNING: startupSeconds 60s is below the estimated" in text


def test_the_plan_shows_every_step_of_every_model():
    cfg = _cfg(weightsGb=2)
    text = first_answer.lines(cfg, run_raw(_raw(weightsGb=2)))
    steps = [line.split()[0] for line in text if line.startswith("    ")]
    assert steps == ["node", "image", "weights", "start"] * 2
