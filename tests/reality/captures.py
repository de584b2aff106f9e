"""The captures the reality tests run over: every example stack, plus variant configs that reach
the branches no example stack takes (a compute class with every capacity, GPU sharing, LATEST
drivers, Ubuntu nodes, direct Workload Identity, an existing cluster, the IP endpoint from an
authorized network, an external Inference Gateway scaling on the pool's KV cache, a gateway on an
existing cluster, GCS FUSE file caches and the Run:ai streamer)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from tests.conftest import STACKS, base_raw, run_raw, stack_capture
from tooling.offline import Capture


def variant_raws() -> dict[str, dict]:
    shared = base_raw()
    shared["gpuPools"][0].update(
        driver="gke-latest", sharing={"strategy": "time-sharing", "maxClientsPerGpu": 2}, imageType="UBUNTU_CONTAINERD"
    )
    mps = base_raw()
    mps["gpuPools"][0].update(sharing={"strategy": "mps", "maxClientsPerGpu": 4}, driver="daemonset")
    direct = base_raw()
    direct["identity"] = {"mode": "direct"}
    existing = base_raw()
    existing["cluster"] = {"mode": "existing", "location": "us-central1-a", "name": "shared-gke"}
    existing.pop("gpuPools")
    # An existing cluster's nodes read the stack's repositories as the account named here.
    existing["registry"] = {"nodeServiceAccount": "shared-gke-nodes@my-project.iam.gserviceaccount.com"}
    ip_endpoint = base_raw()
    ip_endpoint["cluster"].update(
        privateNodes=True,
        masterAuthorizedNetworks=[{"cidr": "10.0.0.0/8", "displayName": "vpn"}],
        kubeconfigEndpoint="ip",
        deployNetworks=["10.8.0.0/16"],
    )
    hardened = base_raw()
    hardened["cluster"].update(
        binaryAuthorization=True,
        intranodeVisibility=True,
        securityPosture="disabled",
        rbacGroups="gke-security-groups@example.com",
    )
    hardened["network"] = {"flowLogs": {"enabled": True, "sampling": 0.2, "aggregationInterval": "INTERVAL_1_MIN"}}
    classes = base_raw()
    classes["cluster"]["location"] = "us-central1"
    classes["computeClasses"] = [
        {
            "name": "l4-chain",
            "accelerator": "nvidia-l4",
            "machineType": "g2-standard-8",
            "maxNodes": 2,
            "priorities": [
                {"capacity": "reservation", "reservations": [{"name": "l4-res", "project": "shared-reservations"}]},
                {"capacity": "any-reservation"},
                {"capacity": "on-demand"},
                {"capacity": "flex-start", "maxRunDurationSeconds": 86_400},
                {"capacity": "spot"},
            ],
            "whenUnsatisfiable": "ScaleUpAnyway",
        }
    ]
    classes["models"].append(
        {
            "name": "llm",
            "server": "vllm",
            "gpu": {"type": "nvidia-l4", "count": 1},
            "source": "hf://org/model",
            "computeClass": "l4-chain",
            "resources": {"cpu": "4", "memory": "16Gi"},
        }
    )
    vllm = {"name": "llm", "server": "vllm", "gpu": {"type": "nvidia-tesla-t4", "count": 1}, "source": "hf://org/m"}
    external_gateway = base_raw()
    external_gateway["models"].append(
        {
            **vllm,
            "gateway": {"enabled": True, "class": "external"},
            "autoscaling": {"signals": [{"signal": "gateway-kv-cache"}]},
        }
    )
    existing_gateway = base_raw()
    existing_gateway.pop("gpuPools")
    existing_gateway["cluster"] = {
        "mode": "existing",
        "location": "us-central1-a",
        "name": "shared-gke",
        "existingGatewayApi": True,
        "existingProxyOnlyCidr": "10.129.0.0/23",
    }
    existing_gateway["models"].append({**vllm, "gateway": {"enabled": True}})
    existing_gateway["registry"] = {
        "nodeServiceAccount": "shared-nodes@replace-with-your-project-id.iam.gserviceaccount.com"
    }
    # Every cold-start branch on one Standard cluster: vLLM reading gs:// through GCS FUSE with a
    # disk cache sized from its weights, Triton's FUSE repository with a Memory cache, and vLLM
    # streaming gs:// with the Run:ai streamer from an image that installs it.
    fuse = base_raw()
    fuse["gpuPools"][0]["maxNodes"] = 4
    fuse["models"] += [
        {**vllm, "name": "llm-fuse", "source": "gs://{models}/llm", "weightsGb": 14.5},
        {
            "name": "onnx-fuse",
            "server": "triton",
            "gpu": {"type": "nvidia-tesla-t4", "count": 1},
            "source": "gs://{models}/repo",
            "triton": {"repository": "fuse"},
            "weightsGb": 0.5,
            "fuseCache": {"medium": "memory"},
        },
        {
            **vllm,
            "name": "llm-stream",
            "source": "gs://{models}/llm",
            "image": "us-central1-docker.pkg.dev/p/models/vllm-runai:0.11.0",
            "vllm": {"loadFormat": "runai_streamer"},
            "weightsGb": 14.5,
        },
    ]
    return {
        "fuse-cache": fuse,
        "compute-class": classes,
        "external-gateway": external_gateway,
        "existing-gateway": existing_gateway,
        "time-sharing": shared,
        "mps": mps,
        "direct": direct,
        "existing": existing,
        "ip-endpoint": ip_endpoint,
        "hardened": hardened,
    }


@cache
def variant_capture(name: str) -> Capture:
    return run_raw(variant_raws()[name])


def _getter(label: str) -> Callable[[], Capture]:
    return (lambda: stack_capture(label)) if label in STACKS else (lambda: variant_capture(label))


CAPTURES: list[tuple[str, Callable[[], Capture]]] = [(label, _getter(label)) for label in (*STACKS, *variant_raws())]
