"""What a stack costs per hour and per month, at minimum and at maximum scale, before it exists.

A GPU stack's bill is dominated by a handful of numbers an operator chooses in
``Pulumi.<stack>.yaml`` (machine types, GPU counts, node and replica ranges, spot or not), so
the estimate is a pure function of the validated :class:`~infra.config.StackConfig` and a
dated price table (``infra/data/prices.yaml``): no cloud call, and a pull request that
changes a pool shows what the change costs next to the diff.

What is counted (list prices, USD):

- the GKE cluster management fee ($0.10/h for every cluster the stack creates; the free-tier
  credit is one per billing account and is not subtracted);
- Standard: the system pool and every GPU pool, ``machine + accelerator x gpusPerNode`` per
  node, spot or on-demand, times the pool's node range. Node counts in this code are totals
  across zones (``total_min/max_node_count``, see ``infra/node_pools.py``), so a regional pool
  is not multiplied by its zone count;
- Autopilot (a new cluster, or an existing one with ``existingAutopilot``): every model's
  replicas times the pod's GPUs + vCPU + memory at the Autopilot GPU Pod rates;
- an existing Standard cluster: nothing — its nodes are billed where the cluster is managed.

Not counted: boot disks, load balancers, network egress, Cloud NAT, storage, logging and
monitoring. "Minimum" is every pool and model at its minimum, "maximum" everything at its
maximum; a month is 730 hours (Google's pricing convention).
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from infra import catalog
from infra.config import GpuPool, ModelConfig, StackConfig, parse_quantity

HOURS_PER_MONTH = 730
PRICES_FILE = Path(__file__).resolve().parent / "data" / "prices.yaml"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Rate(_Frozen):
    """USD per hour for one node or one GPU."""

    on_demand: float = Field(ge=0)
    spot: float = Field(ge=0)

    def of(self, spot: bool) -> float:
        return self.spot if spot else self.on_demand


class PodRate(_Frozen):
    """Autopilot GPU Pod rates: per GPU, per vCPU and per GiB of memory, USD per hour."""

    gpu: float = Field(ge=0)
    vcpu: float = Field(ge=0)
    memory_gib: float = Field(ge=0)
    estimate: bool = False


class Source(_Frozen):
    covers: str
    name: str
    url: str


class PriceTable(_Frozen):
    """The dated price snapshot the estimate reads; see ``infra/data/prices.yaml``."""

    snapshot_date: dt.date
    region: str
    currency: Literal["USD"]
    sources: tuple[Source, ...] = Field(min_length=1)
    cluster_fee_per_hour: float = Field(ge=0)
    free_tier_monthly_credit: float = Field(ge=0)
    machines: dict[str, Rate]
    accelerators: dict[str, Rate]
    autopilot_gpu_pods: dict[str, PodRate]


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
    lines = []
    for pool in cfg.gpu_pools:
        node = gpu_node_hourly(pool, prices)
        capacity = "spot" if pool.spot else "on-demand"
        lines.append(
            CostLine(
                item=f"GPU pool {pool.name}",
                detail=(
                    f"{pool.machine_type} + {pool.gpus_per_node}x {pool.accelerator}, {capacity}, "
                    f"{pool.min_nodes}..{pool.max_nodes} nodes"
                ),
                hourly_min=node * pool.min_nodes,
                hourly_max=node * pool.max_nodes,
            )
        )
    return lines


def autopilot_pod_hourly(model: ModelConfig, prices: PriceTable) -> float:
    """One replica of ``model`` on Autopilot: its GPUs, vCPU and memory requests."""
    rate = prices.autopilot_gpu_pods.get(model.gpu.type)
    if rate is None:
        raise _MissingPriceError(f"Autopilot GPU pod {model.gpu.type}")
    cpu = parse_quantity(model.resources.cpu)
    mem_gib = parse_quantity(model.resources.memory) / 2**30
    return rate.gpu * model.gpu.count + rate.vcpu * cpu + rate.memory_gib * mem_gib


def autopilot_models(cfg: StackConfig, prices: PriceTable) -> list[CostLine]:
    if not cfg.autopilot:
        return []
    lines = []
    for model in cfg.models:
        pod = autopilot_pod_hourly(model, prices)
        r = model.replicas
        lines.append(
            CostLine(
                item=f"Autopilot pods {model.name}",
                detail=(
                    f"{model.gpu.count}x {model.gpu.type} + {model.resources.cpu} vCPU + "
                    f"{model.resources.memory} x {r.min}..{r.max} replicas"
                ),
                hourly_min=pod * r.min,
                hourly_max=pod * r.max,
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
    pod_rates = [prices.autopilot_gpu_pods.get(m.gpu.type) for m in cfg.models] if cfg.autopilot else []
    if any(rate is not None and rate.estimate for rate in pod_rates):
        notes.append("Autopilot GPU pod rates are an estimate (Compute Engine component rates); see the price table")
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
    for part in (cluster_fee, system_pool, gpu_pools, autopilot_models):
        try:
            lines.extend(part(cfg, prices))
        except _MissingPriceError as missing:
            unpriced.append(f"{missing} (add it to infra/data/prices.yaml)")
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
