"""What a stack costs per hour and per month, at minimum and at maximum scale, before it exists.

A GPU stack's bill is dominated by a handful of numbers an operator chooses in
``Pulumi.<stack>.yaml`` (machine types, GPU counts, node and replica ranges, spot or not), so
the estimate is a pure function of the validated :class:`~infra.config.StackConfig` and a
dated price table (``tooling/data/prices.yaml``): no cloud call, and a pull request that
changes a pool shows what the change costs next to the diff.

What is counted (list prices, USD):

- the GKE cluster management fee ($0.10/h for every cluster the stack creates; the free-tier
  credit is one per billing account and is not subtracted);
- Standard: the system pool and every GPU pool, ``machine + accelerator x gpusPerNode`` per
  node, spot or on-demand, times the nodes the pool needs (``infra/capacity.py``: at minimum
  scale what its models' minimum replicas need, never fewer than ``minNodes``; at maximum what
  their maximum replicas need, never more than ``maxNodes``). Node counts are totals across
  zones (``total_min/max_node_count``, see ``infra/node_pools.py``), so a regional pool is not
  multiplied by its zone count;
- Autopilot (a new cluster, or an existing one with ``existingAutopilot``): GPU Pods are billed
  by node, so every model's replicas times the Compute Engine price of the cheapest shape that
  carries its GPUs and gives it its requests (the Autopilot premium is not priced);
- compute classes (both modes): each class's nodes (``infra/capacity.py``), at minimum scale at the
  rate of the chain's cheapest priority, at maximum at its dearest (reservations at the on-demand
  rate, flex-start at its own rate from the table);
- an existing Standard cluster: nothing — its nodes are billed where the cluster is managed.

Not counted: boot disks, load balancers, network egress, Cloud NAT, storage, logging and
monitoring. "Minimum" is every model at its minimum replicas, "maximum" at its maximum; a
month is 730 hours (Google's pricing convention).
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from infra import capacity, catalog
from infra.config import GpuPool, ModelConfig, StackConfig

HOURS_PER_MONTH = 730
# Autopilot sizes its nodes' boot disks itself, so a shape is chosen by CPU and memory only.
AUTOPILOT_BOOT_DISK_GB = 100
PRICES_FILE = Path(__file__).resolve().parent / "data" / "prices.yaml"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Rate(_Frozen):
    """USD per hour for one node or one GPU."""

    on_demand: float = Field(ge=0)
    spot: float = Field(ge=0)
    # Dynamic Workload Scheduler (flex-start) price; absent: the table has none for this row.
    flex_start: float | None = Field(None, ge=0)

    def of(self, spot: bool) -> float:
        return self.spot if spot else self.on_demand

    def for_capacity(self, capacity: str, what: str) -> float:
        """The rate of a compute-class priority. A reservation bills at the on-demand rate whether
        a node uses it or not (Compute Engine, Reservations of Compute Engine zonal resources), so a
        node on one costs what an on-demand node does."""
        if capacity == "spot":
            return self.spot
        if capacity == "flex-start":
            if self.flex_start is None:
                raise _MissingPriceError(f"flex-start price of {what}")
            return self.flex_start
        return self.on_demand


class Source(_Frozen):
    covers: str
    name: str
    url: str


class PriceTable(_Frozen):
    """The dated price snapshot the estimate reads; see ``tooling/data/prices.yaml``."""

    snapshot_date: dt.date
    region: str
    currency: Literal["USD"]
    sources: tuple[Source, ...] = Field(min_length=1)
    cluster_fee_per_hour: float = Field(ge=0)
    free_tier_monthly_credit: float = Field(ge=0)
    machines: dict[str, Rate]
    accelerators: dict[str, Rate]


@cache
def load_prices(path: Path = PRICES_FILE) -> PriceTable:
    return PriceTable.model_validate(yaml.safe_load(path.read_text()))


class CostLine(_Frozen):
    """One billed item with its hourly cost at minimum and at maximum scale."""

    item: str
    detail: str
    hourly_min: float
    hourly_max: float


class CostEstimate(_Frozen):
    """Per-stack estimate; ``unpriced`` lists what the table has no price for (totals omit it)."""

    lines: tuple[CostLine, ...] = ()
    unpriced: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    price_date: str
    region: str

    @property
    def hourly_min(self) -> float:
        return round(sum(line.hourly_min for line in self.lines), 6)

    @property
    def hourly_max(self) -> float:
        return round(sum(line.hourly_max for line in self.lines), 6)

    @property
    def monthly_min(self) -> float:
        return round(self.hourly_min * HOURS_PER_MONTH, 2)

    @property
    def monthly_max(self) -> float:
        return round(self.hourly_max * HOURS_PER_MONTH, 2)

    @property
    def complete(self) -> bool:
        return not self.unpriced


class _MissingPriceError(Exception):
    """A price the table does not have; the message names it."""


def _rate(table: dict[str, Rate], key: str, what: str) -> Rate:
    try:
        return table[key]
    except KeyError:
        raise _MissingPriceError(f"{what} {key}") from None


def cluster_fee(cfg: StackConfig, prices: PriceTable) -> list[CostLine]:
    """The management fee, for the cluster the stack creates (none for ``mode: existing``)."""
    if cfg.cluster.mode == "existing":
        return []
    kind = "Autopilot" if cfg.cluster.mode == "autopilot" else "Standard"
    return [
        CostLine(
            item="GKE cluster fee",
            detail=f"{kind} {cfg.cluster.location}",
            hourly_min=prices.cluster_fee_per_hour,
            hourly_max=prices.cluster_fee_per_hour,
        )
    ]


def system_pool(cfg: StackConfig, prices: PriceTable) -> list[CostLine]:
    """Standard's non-GPU pool, on-demand (``infra/cluster.py`` creates it without spot)."""
    if cfg.cluster.mode != "standard":
        return []
    sp = cfg.cluster.system_pool
    node = _rate(prices.machines, sp.machine_type, "machine type").on_demand
    return [
        CostLine(
            item="system pool",
            detail=f"{sp.machine_type} x {sp.min_nodes}..{sp.max_nodes} nodes",
            hourly_min=node * sp.min_nodes,
            hourly_max=node * sp.max_nodes,
        )
    ]


def gpu_node_hourly(pool: GpuPool, prices: PriceTable) -> float:
    """One node of ``pool``: its machine plus ``gpusPerNode`` accelerators, spot or on-demand."""
    machine = _rate(prices.machines, pool.machine_type, "machine type").of(pool.spot)
    gpu = _rate(prices.accelerators, pool.accelerator, "accelerator").of(pool.spot)
    return machine + gpu * pool.gpus_per_node


def gpu_pools(cfg: StackConfig, prices: PriceTable) -> list[CostLine]:
    """Each GPU pool at the nodes its models need (infra/capacity.py): at minimum scale what the
    minimum replicas need, never fewer than minNodes; at maximum what the maximum replicas need,
    never more than maxNodes."""
    lines = []
    for plan in capacity.plan_pools(cfg):
        pool = plan.pool
        node = gpu_node_hourly(pool, prices)
        kind = "spot" if pool.spot else "on-demand"
        lines.append(
            CostLine(
                item=f"GPU pool {pool.name}",
                detail=(
                    f"{pool.machine_type} + {pool.gpus_per_node}x {pool.accelerator}, {kind}, "
                    f"{plan.nodes_min}..{plan.nodes_max} nodes"
                ),
                hourly_min=node * plan.nodes_min,
                hourly_max=node * plan.nodes_max,
            )
        )
    return lines


def compute_classes(cfg: StackConfig, prices: PriceTable) -> list[CostLine]:
    """Each compute class at the nodes its models need (infra/capacity.py), in both cluster modes
    (the class fixes the node shape; Autopilot bills its GPU nodes by node). Where the node comes
    from decides its rate, so minimum scale is priced at the chain's cheapest priority and maximum
    scale at its dearest: the bill lies between, wherever GKE finds the nodes."""
    lines = []
    for plan in capacity.plan_classes(cfg):
        cc = plan.compute_class
        machine = _rate(prices.machines, cc.machine_type, "machine type")
        gpu = _rate(prices.accelerators, cc.accelerator, "accelerator")
        rates = [
            machine.for_capacity(p.capacity, cc.machine_type)
            + gpu.for_capacity(p.capacity, cc.accelerator) * cc.gpus_per_node
            for p in cc.priorities
        ]
        chain = " > ".join(f"{name} {money(rate, 4)}/h" for name, rate in zip(cc.chain, rates, strict=True))
        lines.append(
            CostLine(
                item=f"compute class {cc.name}",
                detail=(
                    f"{cc.machine_type} + {cc.gpus_per_node}x {cc.accelerator} per node: {chain}; "
                    f"{plan.nodes_min}..{plan.nodes_max} nodes"
                ),
                hourly_min=min(rates) * plan.nodes_min,
                hourly_max=max(rates) * plan.nodes_max,
            )
        )
    return lines


def autopilot_node(model: ModelConfig, prices: PriceTable) -> str:
    """The machine Autopilot provisions for one replica: the cheapest priced shape of the GPU's
    family that carries ``gpu.count`` GPUs and gives the pod its CPU and memory (GKE's allocatable)."""
    acc = catalog.ACCELERATORS[model.gpu.type]
    pod = capacity.model_need(model)
    fitting = []
    for machine, rate in prices.machines.items():
        if catalog.machine_family(machine) != acc.machine_family:
            continue
        if catalog.check_pairing(acc.name, machine, model.gpu.count) is not None:
            continue
        alloc = catalog.allocatable(machine, AUTOPILOT_BOOT_DISK_GB)
        short = {key for key, _, _ in capacity.shortfalls(pod, alloc)} if alloc is not None else {"machine"}
        if not short - {"ephemeralStorage"}:
            fitting.append((rate.on_demand, machine))
    if not fitting:
        raise _MissingPriceError(f"Autopilot node for {model.gpu.count}x {model.gpu.type} + {model.resources.cpu} vCPU")
    return min(fitting)[1]


def autopilot_models(cfg: StackConfig, prices: PriceTable) -> list[CostLine]:
    """Autopilot GPU Pods are billed by node: "You're billed for the Compute Engine hardware that
    runs your GPU workloads, plus an Autopilot premium" (GKE, Deploy GPU workloads in Autopilot,
    node-based billing from 1.29.4-gke.1427000; page updated 2026-04-10). One node per replica;
    the premium is not in the price table (a note says so)."""
    if not cfg.autopilot:
        return []
    lines = []
    for model in cfg.models:
        if model.compute_class is not None:
            continue  # priced with its class (compute_classes)
        machine = autopilot_node(model, prices)
        node = _rate(prices.machines, machine, "machine type").on_demand
        gpus = _rate(prices.accelerators, model.gpu.type, "accelerator").on_demand * model.gpu.count
        r = model.replicas
        lines.append(
            CostLine(
                item=f"Autopilot nodes {model.name}",
                detail=f"{machine} + {model.gpu.count}x {model.gpu.type} per replica x {r.min}..{r.max} replicas",
                hourly_min=(node + gpus) * r.min,
                hourly_max=(node + gpus) * r.max,
            )
        )
    return lines


def _notes(cfg: StackConfig, prices: PriceTable) -> tuple[str, ...]:
    notes = []
    if cfg.cluster.mode == "existing":
        notes.append("existing cluster: its fee and nodes are billed where it is managed")
        if not cfg.autopilot:
            notes.append("GPU nodes of an existing Standard cluster are not priced here")
    # Source: cloud.google.com/kubernetes-engine/pricing - the credit applies to zonal and
    # Autopilot clusters only, once per billing account.
    if cfg.cluster.mode == "autopilot" or (cfg.cluster.mode == "standard" and catalog.is_zone(cfg.cluster.location)):
        notes.append(
            f"GKE free tier: ${prices.free_tier_monthly_credit:.2f}/month credit per billing account "
            "for one zonal or Autopilot cluster, not subtracted"
        )
    if any(p.capacity in ("reservation", "any-reservation") for c in cfg.compute_classes for p in c.priorities):
        notes.append(
            "compute-class reservations: priced at the on-demand rate; a reservation is billed whether or not "
            "a node uses it, so nodes on it cost nothing more than the reservation already does"
        )
    # Artifact Registry bills storage per GB-month and network egress; the price table has no
    # Artifact Registry rows, so neither the stack's own images nor the server images the remote
    # repositories cache (several GB each) are priced.
    notes.append("Artifact Registry storage and egress (own images, cached server images) are not priced")
    if cfg.autopilot and cfg.models:
        notes.append(
            "Autopilot GPU nodes: Compute Engine prices of the node each replica gets; the Autopilot premium "
            "for node management is not in the price table and not included"
        )
    return tuple(notes)


def estimate(cfg: StackConfig, prices: PriceTable | None = None) -> CostEstimate:
    """The stack's cost at minimum and maximum scale. Pure: config and table in, estimate out."""
    prices = prices or load_prices()
    base = {"price_date": prices.snapshot_date.isoformat(), "region": prices.region}
    if cfg.region != prices.region:
        return CostEstimate(
            unpriced=(f"region {cfg.region}: the price table holds {prices.region} prices only",), **base
        )
    lines: list[CostLine] = []
    unpriced: list[str] = []
    for part in (cluster_fee, system_pool, gpu_pools, compute_classes, autopilot_models):
        try:
            lines.extend(part(cfg, prices))
        except _MissingPriceError as missing:
            unpriced.append(f"{missing} (add it to tooling/data/prices.yaml)")
    return CostEstimate(lines=tuple(lines), unpriced=tuple(unpriced), notes=_notes(cfg, prices), **base)


def money(value: float, digits: int = 2) -> str:
    """``1234.5`` -> ``$1,234.50``; hourly figures use ``digits=4`` (a T4 spot hour is $0.14)."""
    return f"-${-value:,.{digits}f}" if value < 0 else f"${value:,.{digits}f}"


def signed_money(value: float) -> str:
    """A delta with its sign: ``+$12.00``, ``-$3.50``, ``$0.00``."""
    if round(value, 2) == 0:
        return "$0.00"
    return f"+${value:,.2f}" if value > 0 else f"-${-value:,.2f}"


def render_lines(est: CostEstimate) -> list[str]:
    """The estimate as plain-text lines for the offline plan."""
    out = [
        f"Cost estimate (USD, list prices {est.region}, price table of {est.price_date}; month = {HOURS_PER_MONTH} h):"
    ]
    if est.lines:
        width = max(len(line.item) for line in est.lines)
        for line in est.lines:
            out.append(
                f"  {line.item:<{width}}  {money(line.hourly_min, 4)}..{money(line.hourly_max, 4)}/h  "
                f"{money(line.hourly_min * HOURS_PER_MONTH)}..{money(line.hourly_max * HOURS_PER_MONTH)}/month  "
                f"({line.detail})"
            )
    out.append(
        f"  total: {money(est.hourly_min, 4)}/h .. {money(est.hourly_max, 4)}/h = "
        f"{money(est.monthly_min)} .. {money(est.monthly_max)} per month (min .. max scale)"
    )
    out.extend(f"  unpriced: {item}" for item in est.unpriced)
    out.extend(f"  note: {note}" for note in est.notes)
    return out


__all__ = [
    "HOURS_PER_MONTH",
    "CostEstimate",
    "CostLine",
    "PriceTable",
    "estimate",
    "load_prices",
    "money",
    "render_lines",
    "signed_money",
]
