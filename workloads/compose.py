"""The workload steps in order, each one function in the module that owns it: the Hugging Face
token, conversion Jobs, compute classes, model servers, their Inference Gateways, their monitors and HPAs, the web front end, the load
generator and the namespace's NetworkPolicies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from infra.config import StackConfig
from infra.platform import Platform
from workloads import autoscaling, compute_classes, gateway, jobs, network, serving, webapp
from workloads.context import Context
from workloads.gateway import InferenceGateway
from workloads.jobs import ConversionJob
from workloads.serving import ModelServer
from workloads.webapp import Webapp


@dataclass
class Workloads:
    servers: dict[str, ModelServer] = field(default_factory=dict)
    conversions: dict[str, ConversionJob] = field(default_factory=dict)
    webapp: Webapp | None = None
    gateways: dict[str, InferenceGateway] = field(default_factory=dict)

    def exports(self) -> dict[str, object]:
        out: dict[str, object] = {"endpoints": {name: s.endpoint for name, s in self.servers.items()}}
        if self.gateways:
            # The address GKE gives each model's Gateway (status.addresses[0]), port 80.
            out["gateways"] = {name: g.address for name, g in self.gateways.items()}
        if self.webapp is not None:
            out["webapp"] = self.webapp.endpoint
        return out


def build(cfg: StackConfig, platform: Platform) -> Workloads:
    if not cfg.models:
        return Workloads()
    ctx = Context.of(cfg, platform)
    hf_secret = serving.hf_token_secret(ctx)
    conversions = jobs.conversions(ctx)
    classes = compute_classes.compute_classes(ctx)
    servers = serving.model_servers(ctx, conversions, hf_secret, classes)
    gateways = gateway.inference_gateways(ctx)
    autoscaling.monitors_and_hpas(ctx, servers)
    front_end = webapp.front_end(ctx, servers)
    jobs.load_generator(ctx, servers)
    network.policies(ctx, servers)
    return Workloads(servers=servers, conversions=conversions, webapp=front_end, gateways=gateways)
