"""What every config module shares: the config namespace and its literal types, the frozen pydantic
bases (``_Model`` for config, ``ComponentArgs`` for components' plain args), name checks, and
:class:`Problem`, the one shape a broken rule takes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from infra import naming
from infra.config.values import parse_quantity

NAMESPACE = "gke-gpu-serving"
GCP_KEYS = ("project", "region")

Environment = Literal["dev", "staging", "prod"]
ClusterMode = Literal["standard", "autopilot", "existing"]
ReleaseChannel = Literal["RAPID", "REGULAR", "STABLE", "EXTENDED"]
Driver = Literal["gke-default", "gke-latest", "daemonset"]
ImageType = Literal["COS_CONTAINERD", "UBUNTU_CONTAINERD"]
Server = Literal["torchserve", "triton", "vllm", "predictor"]
AcceleratorName = Literal["nvidia-tesla-t4", "nvidia-l4"]

# Longest names that still leave room for the suffixes the stack adds (-gke, pool sizes, ...).
NAME_PREFIX_MAX = 20
POOL_KEY_MAX = 20
MODEL_NAME_MAX = 40


class ComponentArgs(BaseModel):
    """Base of every component's ``XArgs``: plain values, frozen, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class _Model(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        coerce_numbers_to_str=True,
    )


def _dns_name(value: str, max_len: int, what: str) -> str:
    if not naming.is_dns1123_label(value, max_len=max_len):
        raise ValueError(
            f"{what} {value!r} must be a DNS-1123 label: lower-case letters, digits and '-', "
            f"starting with a letter, at most {max_len} characters"
        )
    return value


def _quantity_field(value: str) -> str:
    parse_quantity(value)
    return value


@dataclass(frozen=True)
class Problem:
    """One broken rule: where (a key path below the namespace), what was given, how to fix it."""

    path: tuple[str | int, ...]
    value: Any
    message: str


def _repeats(values: list[str]) -> dict[int, int]:
    """For every value seen before: its position -> the position it first appeared at."""
    first: dict[str, int] = {}
    repeats: dict[int, int] = {}
    for i, value in enumerate(values):
        if value in first:
            repeats[i] = first[value]
        else:
            first[value] = i
    return repeats
