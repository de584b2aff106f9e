"""The vLLM signals read what vLLM 0.11 exports (issue 14, item 1; the real logger's exposition is
checked in tests/integration/test_vllm.py)."""

from __future__ import annotations

from infra import config, signals
from tests.conftest import raw_with


def test_batch_size_is_the_requests_running_gauge():
    s = signals.SIGNALS["batch-size"]
    assert (s.metric, s.kind) == ("vllm:num_requests_running", "gauge")


def test_kv_cache_signal_reads_the_kv_cache_usage_gauge():
    s = signals.SIGNALS["kv-cache"]
    assert (s.metric, s.kind, s.servers) == ("vllm:kv_cache_usage_perc", "gauge", ("vllm",))


def test_no_signal_reads_the_metric_vllm_0_11_hides():
    assert "vllm:gpu_cache_usage_perc" not in {s.metric for s in signals.SIGNALS.values()}


def test_kv_cache_is_a_signal_the_config_accepts():
    model = {
        "name": "llm",
        "server": "vllm",
        "gpu": {"type": "nvidia-tesla-t4", "count": 1},
        "source": "hf://org/m",
        "autoscaling": {"signals": [{"signal": "kv-cache", "target": 0.8}]},
    }
    assert config.parse(raw_with(models=[model])).models[0].autoscaling.signals[0].signal == "kv-cache"


def test_every_server_says_whether_its_series_exist_before_the_first_request():
    assert set(signals.EXPORTED_WHEN_IDLE) == {"torchserve", "triton", "vllm"}


# Signals by pod state (issue 15, item 4) --------------------------------------------------------


def test_torchserve_series_exist_only_once_the_model_has_served():
    assert signals.present_in(signals.resolve("queue-latency", "torchserve"), "torchserve") == ("serving",)


def test_dcgm_series_exist_in_every_state_a_pod_holds_its_gpu():
    assert signals.present_in(signals.SIGNALS["gpu-utilization"], "vllm") == signals.STATES


def test_pairing_torchserve_queue_latency_with_gpu_utilization_holds_while_idle():
    pair = [signals.resolve("queue-latency", "torchserve"), signals.SIGNALS["gpu-utilization"]]
    assert signals.held_states(pair, "torchserve") == ("loading", "idle")


def test_pairing_two_vllm_gauges_never_holds():
    pair = [signals.SIGNALS["queue-size"], signals.SIGNALS["batch-size"]]
    assert signals.held_states(pair, "vllm") == ()


def test_the_plan_says_which_hpa_holds_its_replicas_and_why(capsys):
    from tooling import plan

    plan.main(["--stack", "staging"])
    out = capsys.readouterr().out
    assert "holds: serving/t5-small does not scale down while every pod is loading or idle" in out
    assert "Kubernetes skips a scale-down while any metric is missing" in out


# Gateway signals (issue 20) --------------------------------------------------------------------


def _metric_target_field(name: str) -> str:
    import json
    from pathlib import Path

    import kubernetes_validate

    root = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / "v1.34.0-local-strict"
    return json.loads((root / "metrictarget-autoscaling-v2.json").read_text())["properties"][name]["description"]


def test_a_pool_average_is_a_value_target_and_a_per_pod_series_an_average_value_target():
    # The EPP exports one series per pool, already averaged over its pods; the HPA must scale the
    # ready pods by value / target, not divide the one series by the pod count.
    assert "target value of the metric" in _metric_target_field("value")
    assert "average of the metric across all relevant pods" in _metric_target_field("averageValue")
    assert signals.SIGNALS["gateway-queue-size"].target_type == "Value"
    assert signals.SIGNALS["queue-size"].target_type == "AverageValue"


def test_gateway_signals_exist_once_a_pool_pod_has_loaded():
    assert signals.present_in(signals.SIGNALS["gateway-queue-size"], "vllm") == ("idle", "serving")


def test_pairing_the_gateway_queue_with_batch_size_never_holds():
    pair = [signals.SIGNALS["gateway-queue-size"], signals.SIGNALS["batch-size"]]
    assert signals.held_states(pair, "vllm") == ()
