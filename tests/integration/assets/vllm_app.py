"""Runs inside the servers virtualenv (vllm==0.11.0 installed without its dependencies).

Parses and validates the rendered vLLM arguments with vLLM's own parser, builds the engine
config from them, registers vLLM's Prometheus stat logger, records one scheduler step and one
finished request with vLLM's own stats classes, and serves vLLM's FastAPI app (``build_app``) on
the parsed host and port. What it cannot run here is the engine (no GPU, and the wheel's CUDA
kernels need torch 2.8.0): :class:`Engine` answers ``check_health`` in its place, and raises
vLLM's own ``EngineDeadError`` once the file named by ``--dead-flag`` exists.

Usage: python vllm_app.py --report FILE --dead-flag FILE -- <rendered vLLM args>
The report (JSON) is written before the app serves.
"""

from __future__ import annotations

import argparse
import json
import os


def cpu_platform() -> None:
    # vLLM picks its platform from the hardware; with no GPU it finds none and cannot even build
    # its parser. The CPU platform stands in for CUDA: the arguments the stack renders do not
    # depend on it.
    import vllm.platforms
    from vllm.platforms.cpu import CpuPlatform

    vllm.platforms._current_platform = CpuPlatform()


class Engine:
    """The engine client the app calls for /health (the real one needs a GPU)."""

    def __init__(self, dead_flag: str):
        self.dead_flag = dead_flag

    async def check_health(self) -> None:
        from vllm.v1.engine.exceptions import EngineDeadError

        if os.path.exists(self.dead_flag):
            raise EngineDeadError()

    async def is_sleeping(self) -> bool:
        return False


def record_stats(vllm_config) -> None:
    """One scheduler step (one request running) and one finished request, as the engine reports them."""
    from vllm.v1.engine import FinishReason
    from vllm.v1.metrics.loggers import PrometheusStatLogger
    from vllm.v1.metrics.stats import FinishedRequestStats, IterationStats, SchedulerStats

    logger = PrometheusStatLogger(vllm_config, [0])
    iteration = IterationStats()
    iteration.finished_requests.append(
        FinishedRequestStats(
            finish_reason=FinishReason.LENGTH,
            e2e_latency=0.5,
            num_prompt_tokens=8,
            num_generation_tokens=4,
            max_tokens_param=4,
            queued_time=0.01,
            prefill_time=0.1,
            inference_time=0.4,
            decode_time=0.3,
            mean_time_per_output_token=0.1,
        )
    )
    logger.record(
        scheduler_stats=SchedulerStats(num_running_reqs=1, num_waiting_reqs=0, kv_cache_usage=0.25),
        iteration_stats=iteration,
        engine_idx=0,
    )


def main() -> None:
    ours = argparse.ArgumentParser()
    ours.add_argument("--report", required=True)
    ours.add_argument("--dead-flag", required=True)
    ours.add_argument("rendered", nargs=argparse.REMAINDER)
    opts = ours.parse_args()
    rendered = opts.rendered[1:] if opts.rendered[:1] == ["--"] else opts.rendered

    cpu_platform()
    import uvicorn
    import vllm
    import vllm.envs as envs
    from vllm.engine.arg_utils import AsyncEngineArgs
    from vllm.entrypoints.openai.api_server import build_app
    from vllm.entrypoints.openai.cli_args import make_arg_parser, validate_parsed_serve_args
    from vllm.utils import FlexibleArgumentParser

    args = make_arg_parser(FlexibleArgumentParser()).parse_args(rendered)
    validate_parsed_serve_args(args)
    vllm_config = AsyncEngineArgs.from_cli_args(args).create_engine_config()
    record_stats(vllm_config)

    app = build_app(args)
    app.state.engine_client = Engine(opts.dead_flag)
    report = {
        "vllm": vllm.__version__,
        "model": args.model,
        "served_model_name": args.served_model_name,
        "host": args.host,
        "port": args.port,
        "tensor_parallel_size": vllm_config.parallel_config.tensor_parallel_size,
        "gpu_memory_utilization": vllm_config.cache_config.gpu_memory_utilization,
        "show_hidden_metrics": vllm_config.observability_config.show_hidden_metrics,
        "vllm_cache_root": envs.VLLM_CACHE_ROOT,
    }
    with open(opts.report, "w") as f:
        json.dump(report, f)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", lifespan="off")


if __name__ == "__main__":
    main()
