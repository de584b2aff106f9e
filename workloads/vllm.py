"""vLLM's OpenAI-compatible server (seed 004: Mistral-7B on L4) on port 8000, ``/health`` probes,
Prometheus metrics on the same port. The model comes from Hugging Face (the token from a
Kubernetes Secret made from a Pulumi secret), from the bucket over GCS FUSE, or streamed from
``gs://`` by the Run:ai model streamer (``vllm.loadFormat: runai_streamer``). Tensor-parallel
size is the GPU count (``infra.config`` rejects anything else).

The image runs as the stack's uid 1000, for which it has no passwd entry: torch's inductor asks
``getpass.getuser()``, which then raises unless ``USER``/``LOGNAME`` are set, and the caches under
``$HOME`` would land on the image's read-only layers. So the pod sets both names and points
``VLLM_CACHE_ROOT``, ``TORCHINDUCTOR_CACHE_DIR``, ``TRITON_CACHE_DIR`` and the Hugging Face cache
at one emptyDir that takes the pod's ephemeral storage but a small /tmp (kserve#5666, vllm#44548).
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from infra.config import ModelConfig
from workloads.drivers import autopilot_driver
from workloads.pod import MODEL_MOUNT, HttpCheck, Probes, Scratch
from workloads.server import Port, ServerSpec, Source, env, startup_seconds

IMAGE = "vllm/vllm-openai:v0.11.0"
# The CUDA the image's vLLM is built with: the vllm==0.11.0 wheel's _C.abi3.so says "Cuda
# compilation tools, release 12.8" (tests/integration/test_vllm.py reads it from the wheel).
IMAGE_CUDA = "12.8"
USER = "vllm"
PORTS = (Port("http", 8000),)
# Without models[].weightsGb (no estimate, infra/coldstart.py): a 7B model is ~15 GB to download
# before the first /health 200.
STARTUP_SECONDS = 1800
HF_TOKEN_KEY = "token"
CACHE_DIR = "/data"
# Where vLLM writes, seen with strace in tests/integration/test_vllm.py (0.11.0's parser, engine
# config and app): its caches under CACHE_DIR, and /tmp, where Python's tempfile probes and the
# model registry's inspection subprocess writes (vllm/model_executor/models/registry.py uses a
# TemporaryDirectory). The engine's own writes (torch.compile and CUDA graph caches, FlashInfer's
# JIT) cannot run here without a GPU: HOME and every cache variable point into CACHE_DIR for them.
SCRATCH = (Scratch("cache", CACHE_DIR), Scratch("tmp", "/tmp", "1Gi"))


def args(model: ModelConfig, model_ref: pulumi.Input[str]) -> list[pulumi.Input[str]]:
    """``model_ref``: a Hugging Face id, the FUSE mount, or a gs:// URI (an Output: the bucket's name)."""
    opts = model.options
    out: list[pulumi.Input[str]] = [
        pulumi.Output.concat("--model=", model_ref) if not isinstance(model_ref, str) else f"--model={model_ref}",
        f"--served-model-name={opts.served_model_name or model.name}",
        f"--tensor-parallel-size={model.gpu.count}",
        "--host=0.0.0.0",
        "--port=8000",
        f"--gpu-memory-utilization={opts.gpu_memory_utilization}",
        f"--dtype={opts.dtype}",
    ]
    if opts.max_model_len is not None:
        out.append(f"--max-model-len={opts.max_model_len}")
    if opts.max_num_seqs is not None:
        out.append(f"--max-num-seqs={opts.max_num_seqs}")
    return out


def cache_env() -> list[k8s.core.v1.EnvVarArgs]:
    """A user name for getpass, and every cache on the writable volume."""
    return [
        env("USER", USER),
        env("LOGNAME", USER),
        env("HOME", f"{CACHE_DIR}/home"),
        env("HF_HOME", f"{CACHE_DIR}/huggingface"),
        env("VLLM_CACHE_ROOT", f"{CACHE_DIR}/vllm"),
        env("TORCHINDUCTOR_CACHE_DIR", f"{CACHE_DIR}/torchinductor"),
        env("TRITON_CACHE_DIR", f"{CACHE_DIR}/triton"),
    ]


def spec(model: ModelConfig, source: Source, hf_secret: str | None) -> ServerSpec:
    out = ServerSpec(
        image=model.image or IMAGE,
        # Explicit module entry point: the same in every vllm-openai release.
        command=["python3", "-m", "vllm.entrypoints.openai.api_server"],
        args=[],
        ports=PORTS,
        probes=Probes.on(HttpCheck("/health", "http"), startup_seconds(model, STARTUP_SECONDS)),
        metrics=HttpCheck("/metrics", "http"),
        shutdown_seconds=30,
        scratch=SCRATCH,
        env=cache_env(),
        driver=autopilot_driver(IMAGE_CUDA, image=model.image or IMAGE),
    )
    if source.hf_id is not None:
        out.args = args(model, source.hf_id)
        if hf_secret:
            ref = k8s.core.v1.EnvVarSourceArgs(
                secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=hf_secret, key=HF_TOKEN_KEY)
            )
            out.env += [
                k8s.core.v1.EnvVarArgs(name="HF_TOKEN", value_from=ref),
                k8s.core.v1.EnvVarArgs(name="HUGGING_FACE_HUB_TOKEN", value_from=ref),
            ]
    elif model.options.load_format == "runai_streamer":
        # Streamed from gs:// by the Run:ai model streamer (infra/config/coldstart.py: the image
        # must carry vllm[runai]); credentials come from Workload Identity, no bucket is mounted.
        out.args = [*args(model, source.uri), "--load-format=runai_streamer"]
    else:
        out.parts.add_gcsfuse(source.bucket, source.path, model.run_as_user, cache=source.cache)
        out.args = args(model, MODEL_MOUNT)
    return out
