"""Conversion / optimisation Jobs (seeds 001 and 002) and the opt-in load generator Job.

A conversion Job reads the source model and writes the converted one with the *writer*
identity (a ``storage.access`` grant; serving identities only read). It is bounded by
``backoffLimit`` and ``activeDeadlineSeconds``; Pulumi waits for it to complete, and the
Deployment that serves its output depends on it, so the conversion runs first.

Jobs are immutable: a changed template replaces the Job (delete first, same name). No
``ttlSecondsAfterFinished``: a Job the cluster garbage-collects would be recreated — and rerun —
by the next ``pulumi up``.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_kubernetes as k8s

from infra import naming
from infra.config import CONVERTER_IMAGE, ComponentArgs, ConversionConfig, LoadTestConfig
from workloads import images, pod
from workloads.context import Context
from workloads.server import resolve_uri

CONVERSION_COMPONENT = "conversion"
LOADGEN_COMPONENT = "load-generator"
SKIP_AWAIT = "pulumi.com/skipAwait"
AWAIT_MARGIN_SECONDS = 300
LOCUST_DIR = "/mnt/locust"


# The one exception to non-root: images that can only run as root, with the reason. Seed 001's
# converter (GoogleCloudPlatform/llm-pipeline-examples docker/convert.Dockerfile @8a57835) is
# nvcr.io/nvidia/pytorch with no non-root user; convert_t5.sh (scripts/fastertransformer @e99f18b)
# writes the downloaded and converted model into FasterTransformer/build, a root-owned folder of
# the image, and pip-installs into the image's root-owned site-packages. Upstream runs it as root
# (gke/specs/convert.yml sets no user). It still runs with every capability dropped, no privilege
# escalation and the runtime's seccomp profile; the policy pack's k8s-security-context waiver for
# it is policies/config/prod.json.
ROOT_IMAGES = {CONVERTER_IMAGE: "no non-root user; writes into root-owned image folders (convert_t5.sh)"}


def runs_as_root(image: str) -> bool:
    return images.repository(image) in ROOT_IMAGES


class ConversionArgs(ComponentArgs):
    conversion: ConversionConfig
    namespace: str
    ksa: str
    environment: str
    autopilot: bool
    node_pools: tuple[str, ...] = ()
    run_as_user: int = 1000


def conversion_pod(
    args: ConversionArgs, source: pulumi.Input[str], destination: pulumi.Input[str]
) -> k8s.core.v1.PodSpecArgs:
    c = args.conversion
    if c.gpu is not None:
        placement = pod.gpu_placement(c.gpu.type, autopilot=args.autopilot, node_pools=args.node_pools)
    else:
        placement = pod.cpu_placement()
    shm_vol, shm_mount = pod.shm_volume(pod.default_shm_size("conversion", c.resources.memory))
    root = runs_as_root(c.image)
    # A root image writes into its own folders and keeps a writable root (ROOT_IMAGES); any other
    # conversion image gets a read-only root and a /tmp (HOME) for its scratch space. Not seen
    # with a real process: conversion images are the stack's choice, not something run here.
    scratch = [] if root else pod.scratch_volumes(c.resources.ephemeral_storage, (pod.TMP,))
    return k8s.core.v1.PodSpecArgs(
        restart_policy="Never",
        service_account_name=args.ksa,
        automount_service_account_token=pod.NO_API_TOKEN,
        node_selector=placement.node_selector,
        tolerations=placement.toleration_args(),
        affinity=placement.affinity(),
        security_context=pod.root_pod_security() if root else pod.pod_security(args.run_as_user),
        volumes=[shm_vol, *(volume for volume, _ in scratch)],
        containers=[
            k8s.core.v1.ContainerArgs(
                name="convert",
                image=c.image,
                image_pull_policy=images.pull_policy(c.image),
                command=list(c.command) or None,
                args=list(c.args) or None,
                env=[
                    k8s.core.v1.EnvVarArgs(name="SOURCE_URI", value=source),
                    k8s.core.v1.EnvVarArgs(name="DESTINATION_URI", value=destination),
                    k8s.core.v1.EnvVarArgs(name="HOME", value="/tmp"),
                ],
                resources=pod.resources(
                    c.resources.cpu, c.resources.memory, c.resources.ephemeral_storage, c.gpu.count if c.gpu else 0
                ),
                volume_mounts=[shm_mount, *(mount for _, mount in scratch)],
                security_context=pod.root_container_security() if root else pod.container_security(args.run_as_user),
            )
        ],
    )


class ConversionJob(pulumi.ComponentResource):
    job: k8s.batch.v1.Job

    def __init__(
        self,
        name: str,
        args: ConversionArgs,
        *,
        source: pulumi.Input[str],
        destination: pulumi.Input[str],
        provider: pulumi.ProviderResource,
        deleted_with: pulumi.Resource | None = None,
        after: list[pulumi.Resource] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("gke-gpu-serving:workloads:ConversionJob", name, None, opts)
        self.conversion = c = args.conversion
        labels = naming.k8s_labels(args.environment, CONVERSION_COMPONENT, c.name)
        wait = c.active_deadline_seconds + AWAIT_MARGIN_SECONDS
        self.job = k8s.batch.v1.Job(
            f"{name}-job",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=c.name, namespace=args.namespace, labels=labels),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=c.backoff_limit,
                active_deadline_seconds=c.active_deadline_seconds,
                completions=1,
                parallelism=1,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=conversion_pod(args, source, destination),
                ),
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=provider,
                deleted_with=deleted_with,
                depends_on=list(after or []),
                delete_before_replace=True,
                custom_timeouts=pulumi.CustomTimeouts(create=f"{wait}s", update=f"{wait}s"),
            ),
        )
        self.register_outputs({"job": c.name})


# Load generator ------------------------------------------------------------------------------

# Seed 000's T5 handler (GoogleCloudPlatform/kubernetes-engine-samples
# ai-ml/t5-model-serving/model/handler.py @313f7451) reads "text", "from" and "to" from the body and
# translates only between these languages (its language map); any other code fails the request.
# Upstream's own locustfile asks for "es" and so fails every request.
T5_HANDLER_KEYS = ("text", "from", "to")
T5_HANDLER_LANGUAGES = ("ro", "fr", "de", "en")

# What one request looks like per server: (method, path, JSON body). Triton's tensors are model
# specific, so a Triton load test must say its own path and body.
REQUESTS = {
    "torchserve": ("POST", "/predictions/{model}", {"text": "this is a test sentence", "from": "en", "to": "de"}),
    "vllm": (
        "POST",
        "/v1/completions",
        {"model": "{model}", "prompt": "Summarize: the meeting moved to Friday.", "max_tokens": 64},
    ),
    "predictor": ("POST", "/infer", {"instances": ["translate English to German: the house is wonderful"]}),
}


def locustfile(method: str, path: str, body: dict, per_user_rps: float) -> str:
    """A locustfile whose users each send ``per_user_rps`` requests per second (constant throughput)."""
    return (
        "from locust import FastHttpUser, constant_throughput, task\n\n\n"
        "class Load(FastHttpUser):\n"
        f"    wait_time = constant_throughput({per_user_rps!r})\n\n"
        "    @task\n"
        "    def request(self):\n"
        f"        self.client.request({method!r}, {path!r}, json={json.dumps(body)})\n"
    )


def load_request(server: str, model: str, path: str | None, body: str | None) -> tuple[str, str, dict]:
    method, default_path, default_body = REQUESTS.get(server, ("POST", "", {}))
    chosen_body = json.loads(body) if body else json.loads(json.dumps(default_body).replace("{model}", model))
    return method, (path or default_path).replace("{model}", model), chosen_body


class LoadGeneratorArgs(ComponentArgs):
    load_test: LoadTestConfig
    server: str
    target: str  # base URL of the model's Service
    namespace: str
    environment: str


def job_name(cfg: LoadTestConfig) -> str:
    return naming.budget_name("loadtest", cfg.model, str(cfg.run), max_len=naming.K8S_NAME_MAX)


class LoadGenerator(pulumi.ComponentResource):
    """A Locust Job, headless: ``users`` users at a fixed total rate for ``durationSeconds``."""

    def __init__(
        self,
        name: str,
        args: LoadGeneratorArgs,
        *,
        provider: pulumi.ProviderResource,
        deleted_with: pulumi.Resource | None = None,
        after: list[pulumi.Resource] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("gke-gpu-serving:workloads:LoadGenerator", name, None, opts)
        lt = args.load_test
        labels = naming.k8s_labels(args.environment, LOADGEN_COMPONENT, lt.model)
        child = pulumi.ResourceOptions(
            parent=self, provider=provider, deleted_with=deleted_with, depends_on=list(after or [])
        )
        method, path, body = load_request(args.server, lt.model, lt.path, lt.body)
        jname = job_name(lt)
        files = k8s.core.v1.ConfigMap(
            f"{name}-locustfile",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=jname, namespace=args.namespace, labels=labels),
            data={"locustfile.py": locustfile(method, path, body, lt.requests_per_second / lt.users)},
            opts=child,
        )
        uid = 1000
        # Not seen with a real process (Locust is not installed here): a /tmp, its HOME, on a
        # read-only root.
        ephemeral = "1Gi"
        scratch = pod.scratch_volumes(ephemeral, (pod.TMP,))
        k8s.batch.v1.Job(
            f"{name}-job",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=jname,
                namespace=args.namespace,
                labels=labels,
                # pulumi up does not wait for the load run; watch it with kubectl.
                annotations={SKIP_AWAIT: "true"},
            ),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=0,
                completions=1,
                parallelism=1,
                active_deadline_seconds=lt.duration_seconds + 120,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=k8s.core.v1.PodSpecArgs(
                        restart_policy="Never",
                        node_selector=pod.cpu_placement().node_selector,
                        security_context=pod.pod_security(uid),
                        automount_service_account_token=pod.NO_API_TOKEN,
                        volumes=[
                            k8s.core.v1.VolumeArgs(
                                name="locustfile",
                                config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=files.metadata.name),
                            ),
                            *(volume for volume, _ in scratch),
                        ],
                        containers=[
                            k8s.core.v1.ContainerArgs(
                                name="locust",
                                image=lt.image,
                                image_pull_policy=images.pull_policy(lt.image),
                                command=["locust"],
                                args=[
                                    f"--locustfile={LOCUST_DIR}/locustfile.py",
                                    "--headless",
                                    f"--host={args.target}",
                                    f"--users={lt.users}",
                                    f"--spawn-rate={lt.users}",
                                    f"--run-time={lt.duration_seconds}s",
                                    "--only-summary",
                                ],
                                env=[k8s.core.v1.EnvVarArgs(name="HOME", value="/tmp")],
                                resources=pod.resources("500m", "512Mi", ephemeral),
                                volume_mounts=[
                                    k8s.core.v1.VolumeMountArgs(
                                        name="locustfile", mount_path=LOCUST_DIR, read_only=True
                                    ),
                                    *(mount for _, mount in scratch),
                                ],
                                security_context=pod.container_security(uid),
                            )
                        ],
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(delete_before_replace=True)),
        )
        self.register_outputs({"job": jname})


def conversions(ctx: Context) -> dict[str, ConversionJob]:
    """One Job per conversion (the configured ones and each FasterTransformer predictor's), each
    after its namespace, its identity and the capacity its pod needs."""
    cfg, platform = ctx.cfg, ctx.platform
    out: dict[str, ConversionJob] = {}
    for _, conv in cfg.all_conversions:  # synthesizes the predictor ones: once
        grant = cfg.grant(conv.workload)
        identity = platform.identity(conv.workload)
        job_ns = grant.namespace or ctx.namespace if grant else ctx.namespace
        out[conv.name] = ConversionJob(
            f"convert-{conv.name}",
            ConversionArgs(
                conversion=conv,
                namespace=job_ns,
                ksa=(grant.service_account or grant.workload) if grant else conv.workload,
                environment=cfg.environment,
                autopilot=cfg.autopilot,
                node_pools=ctx.pools(conv.gpu),
            ),
            source=resolve_uri(conv.source, ctx.buckets),
            destination=resolve_uri(conv.destination, ctx.buckets),
            provider=ctx.provider,
            deleted_with=ctx.deleted_with,
            after=[
                *([platform.namespaces[job_ns]] if job_ns in platform.namespaces else []),
                *([identity] if identity else []),
                *platform.capacity_for(conv.gpu),
                *ctx.pulls(conv.image),
            ],
        )
    return out


def load_generator(ctx: Context, servers: dict[str, pulumi.Resource]) -> LoadGenerator | None:
    """The opt-in load generator, after the server it loads (``servers``: model -> its server)."""
    lt = ctx.cfg.load_test
    if lt is None or not lt.enabled:
        return None
    target = servers[lt.model]
    return LoadGenerator(
        "loadtest",
        LoadGeneratorArgs(
            load_test=lt,
            server=ctx.cfg.model(lt.model).server,
            target=target.endpoint,
            namespace=ctx.namespace,
            environment=ctx.cfg.environment,
        ),
        provider=ctx.provider,
        deleted_with=ctx.deleted_with,
        after=[*ctx.in_namespace, target, *ctx.platform.capacity_for(None), *ctx.pulls(lt.image)],
    )
