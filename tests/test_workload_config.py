"""Serving-workload configuration rules: each rejects bad input with the key path and the fix."""

from __future__ import annotations

import pytest

from infra import config
from tests.conftest import base_raw, raw_with
from tests.test_config import NS, model, only_line_for

L4_POOL = {
    "name": "l4",
    "accelerator": "nvidia-l4",
    "gpusPerNode": 2,
    "machineType": "g2-standard-24",
    "maxNodes": 2,
}


def vllm_model(**changes) -> dict:
    m = {
        "name": "mistral",
        "server": "vllm",
        "gpu": {"type": "nvidia-l4", "count": 2},
        "source": "hf://mistralai/Mistral-7B-Instruct-v0.3",
        "resources": {"cpu": "8", "memory": "40Gi"},
    }
    m.update(changes)
    return m


def with_l4(*models: dict, **changes) -> dict:
    raw = raw_with(gpuPools=[*base_raw()["gpuPools"], L4_POOL], models=[*base_raw()["models"], *models])
    raw.update(changes)
    return raw


def predictor_model(**predictor) -> dict:
    return {
        "name": "flan-t5",
        "server": "predictor",
        "gpu": {"type": "nvidia-tesla-t4", "count": 1},
        "source": "gs://{models}/pipeline/flan-t5/Model",
        "predictor": predictor,
    }


FT_STORAGE = {
    "buckets": [{"name": "models"}, {"name": "converted", "purpose": "converted-models"}],
    "access": [{"workload": "ft-converter", "reads": ["models"], "writes": ["converted"]}],
}


def test_vllm_tensor_parallel_must_equal_gpu_count():
    raw = with_l4(vllm_model(vllm={"tensorParallelSize": 1}))
    line = only_line_for(raw, f"{NS}:models[1].vllm.tensorParallelSize")
    assert "must equal gpu.count (2)" in line


def test_vllm_tensor_parallel_equal_to_gpu_count_is_allowed():
    assert config.parse(with_l4(vllm_model(vllm={"tensorParallelSize": 2}))).models[1].gpu.count == 2


def test_faster_transformer_without_upload_path_is_rejected():
    raw = raw_with(models=[predictor_model(fasterTransformer=True)], storage=FT_STORAGE)
    line = only_line_for(raw, f"{NS}:models[0].predictor.convertedModelUploadPath")
    assert "CONVERTED_MODEL_UPLOAD_PATH" in line


def test_faster_transformer_with_a_writer_is_valid():
    raw = raw_with(
        models=[predictor_model(fasterTransformer=True, convertedModelUploadPath="gs://{converted}/flan/1/Model")],
        storage=FT_STORAGE,
    )
    (path, conv), *_ = config.parse(raw).all_conversions
    assert (path, conv.model, conv.workload) == (("models", 0, "predictor"), "flan-t5", "ft-converter")


def test_faster_transformer_converter_must_write_the_upload_bucket():
    storage = {**FT_STORAGE, "access": [{"workload": "ft-converter", "reads": ["models"]}]}
    raw = raw_with(
        models=[predictor_model(fasterTransformer=True, convertedModelUploadPath="gs://{converted}/flan/1/Model")],
        storage=storage,
    )
    line = only_line_for(raw, f"{NS}:models[0].predictor.convertedModelUploadPath")
    assert "does not write; add converted to its writes" in line


def test_faster_transformer_converter_must_be_an_access_grant():
    raw = raw_with(
        models=[
            predictor_model(fasterTransformer=True, convertedModelUploadPath="gs://{converted}/x", converter="nobody")
        ],
        storage=FT_STORAGE,
    )
    line = only_line_for(raw, f"{NS}:models[0].predictor.converter")
    assert "is not a workload of storage.access" in line


def test_upload_path_must_be_gs():
    raw = raw_with(models=[predictor_model(convertedModelUploadPath="hf://org/model")], storage=FT_STORAGE)
    assert any(line.startswith(f"{NS}:models[0].predictor.convertedModelUploadPath") for line in _errors(raw))


def test_predictor_source_must_be_gs():
    raw = raw_with(models=[{**predictor_model(), "source": "hf://google/flan-t5-base"}], storage=FT_STORAGE)
    line = only_line_for(raw, f"{NS}:models[0].source")
    assert "must be a gs:// URI" in line and "MODEL_SOURCE_PATH" in line


def test_triton_source_must_be_gs():
    raw = raw_with(models=model(server="triton", source="hf://org/model", image=None))
    assert "Triton reads its model repository from GCS" in only_line_for(raw, f"{NS}:models[0].source")


def test_source_that_is_neither_gs_nor_hf_is_rejected():
    line = only_line_for(raw_with(models=model(source="s3://bucket/t5")), f"{NS}:models[0].source")
    assert "neither a gs:// nor an hf:// URI" in line


def test_predictor_latest_tag_outside_dev_is_rejected():
    raw = raw_with(environment="staging", models=[predictor_model(imageTag="latest")], storage=FT_STORAGE)
    line = only_line_for(raw, f"{NS}:models[0].predictor.imageTag")
    assert "latest tag" in line


def test_options_for_another_server_are_rejected():
    line = only_line_for(raw_with(models=model(vllm={"dtype": "half"})), f"{NS}:models[0].vllm")
    assert "this model's server is torchserve" in line


def test_triton_load_models_needs_explicit_control():
    raw = raw_with(models=model(server="triton", image=None, triton={"loadModels": ["resnet"]}))
    assert "modelControlMode: explicit" in only_line_for(raw, f"{NS}:models[0].triton.loadModels")


def test_torchserve_baked_store_needs_an_image():
    raw = raw_with(models=model(image=None))
    assert "modelStore: bucket" in only_line_for(raw, f"{NS}:models[0].image")


def test_shm_at_or_over_memory_is_rejected():
    raw = raw_with(models=model(shmSize="16Gi", resources={"memory": "16Gi"}))
    assert "counts against the container's memory limit" in only_line_for(raw, f"{NS}:models[0].shmSize")


def test_memory_that_is_not_a_quantity_is_rejected():
    raw = raw_with(models=model(resources={"memory": "16 GB"}))
    assert "is not a Kubernetes quantity" in only_line_for(raw, f"{NS}:models[0].resources.memory")


def test_driver_version_selector_on_standard_is_rejected():
    raw = raw_with(models=model(gpu={"type": "nvidia-tesla-t4", "count": 1, "driverVersion": "latest"}))
    assert "Autopilot only" in only_line_for(raw, f"{NS}:models[0].gpu.driverVersion")


def test_load_balancer_in_prod_needs_the_flag():
    raw = raw_with(
        environment="prod",
        cluster={"mode": "standard", "location": "us-central1-a", "deletionProtection": True},
        models=model(service={"type": "LoadBalancer"}),
    )
    assert "service.allowInProd: true" in only_line_for(raw, f"{NS}:models[0].service.type")


def test_load_balancer_in_prod_with_the_flag_is_allowed():
    raw = raw_with(
        environment="prod",
        cluster={"mode": "standard", "location": "us-central1-a", "deletionProtection": True},
        models=model(service={"type": "LoadBalancer", "allowInProd": True}),
    )
    assert config.parse(raw).models[0].service_type == "LoadBalancer"


def test_allow_from_on_cluster_ip_is_rejected():
    raw = raw_with(models=model(service={"allowFrom": ["10.0.0.0/8"]}))
    assert "only NodePort and LoadBalancer" in only_line_for(raw, f"{NS}:models[0].service.allowFrom")


def test_predictor_defaults_to_node_port():
    raw = raw_with(models=[predictor_model()], storage=FT_STORAGE)
    assert config.parse(raw).models[0].service_type == "NodePort"


def test_webapp_must_call_a_torchserve_model():
    raw = raw_with(models=model(server="triton", image=None), webapp={"model": "t5-small", "image": "a/b:1"})
    assert "torchserve model" in only_line_for(raw, f"{NS}:webapp.model")


def test_webapp_latest_outside_dev_is_rejected():
    raw = raw_with(environment="staging", webapp={"model": "t5-small", "image": "a/fastdash:latest"})
    assert "latest tag" in only_line_for(raw, f"{NS}:webapp.image")


def test_load_test_model_must_exist():
    raw = raw_with(loadTest={"enabled": True, "model": "nope"})
    assert "is not a served model" in only_line_for(raw, f"{NS}:loadTest.model")


@pytest.mark.parametrize(("field", "value"), [("users", 201), ("requestsPerSecond", 501), ("durationSeconds", 3601)])
def test_load_test_is_bounded(field, value):
    raw = raw_with(loadTest={"enabled": True, "model": "t5-small", field: value})
    assert any(line.startswith(f"{NS}:loadTest.{field}") for line in _errors(raw))


def test_triton_load_test_needs_path_and_body():
    raw = raw_with(models=model(server="triton", image=None), loadTest={"enabled": True, "model": "t5-small"})
    assert "input tensors" in only_line_for(raw, f"{NS}:loadTest.body")


def test_conversion_must_name_a_served_model():
    raw = raw_with(
        storage=FT_STORAGE,
        conversions=[
            {
                "name": "trt",
                "model": "nope",
                "workload": "ft-converter",
                "image": "nvcr.io/nvidia/tensorrt:25.06-py3",
                "source": "gs://{models}/onnx",
                "destination": "gs://{converted}/trt",
            }
        ],
    )
    assert "is not a served model" in only_line_for(raw, f"{NS}:conversions[0].model")


def test_conversion_gpu_needs_a_pool():
    raw = raw_with(
        storage=FT_STORAGE,
        conversions=[
            {
                "name": "trt",
                "workload": "ft-converter",
                "image": "nvcr.io/nvidia/tensorrt:25.06-py3",
                "source": "gs://{models}/onnx",
                "destination": "gs://{converted}/trt",
                "gpu": {"type": "nvidia-l4", "count": 1},
            }
        ],
    )
    assert "no GPU pool serves nvidia-l4" in only_line_for(raw, f"{NS}:conversions[0].gpu.type")


def _errors(raw: dict) -> list[str]:
    with pytest.raises(config.ConfigError) as info:
        config.parse(raw)
    return info.value.lines


def test_faster_transformer_scratch_space_must_fit_the_node_it_runs_on():
    model = predictor_model(
        fasterTransformer=True,
        convertedModelUploadPath="gs://{converted}/flan/1/Model",
        conversionEphemeralStorage="60Gi",
    )
    line = only_line_for(
        raw_with(models=[model], storage=FT_STORAGE), f"{NS}:models[0].predictor.conversionEphemeralStorage"
    )
    assert '"60Gi"' in line and "diskSizeGb to at least" in line
