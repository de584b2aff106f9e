"""Benchmark: the offline plan of each stack against its import floor.

The floor is a bare Python process that imports exactly the provider modules the plan loads
(pulumi, and the pulumi_gcp / pulumi_kubernetes / pulumi_random submodules, found by running
the plan once). Plan and floor runs alternate in one loop so machine noise hits both alike;
the script prints the median of each and their ratio. Target: plan <= 2x floor.

    .venv/bin/python bench/plan_bench.py [--rounds 7]

Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROVIDER_PREFIXES = ("pulumi_gcp", "pulumi_kubernetes", "pulumi_random")

_DISCOVER = """
import io, json, sys, contextlib
from tooling import plan
with contextlib.redirect_stdout(io.StringIO()):
    plan.main(["--stack", sys.argv[1]])
mods = sorted(m for m in sys.modules if m.split(".")[0] in {prefixes!r})
print(json.dumps(mods))
"""


def provider_modules(stack: str) -> list[str]:
    code = _DISCOVER.format(prefixes=set(PROVIDER_PREFIXES))
    out = subprocess.run([sys.executable, "-c", code, stack], cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def bench(stack: str, rounds: int) -> tuple[float, float]:
    modules = provider_modules(stack)
    floor_cmd = [sys.executable, "-c", "import pulumi\n" + "\n".join(f"import {m}" for m in modules)]
    plan_cmd = [sys.executable, "-m", "tooling.plan", "--stack", stack]
    plans, floors = [], []
    timed(plan_cmd)  # warm the OS file cache once for both
    for _ in range(rounds):
        plans.append(timed(plan_cmd))
        floors.append(timed(floor_cmd))
    return statistics.median(plans), statistics.median(floors)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--stacks", nargs="+", default=["dev", "staging", "prod"])
    args = parser.parse_args()
    print(f"{'stack':<8} {'plan median':>12} {'floor median':>13} {'ratio':>6}  (rounds={args.rounds}, alternated)")
    worst = 0.0
    for stack in args.stacks:
        plan_s, floor_s = bench(stack, args.rounds)
        ratio = plan_s / floor_s
        worst = max(worst, ratio)
        print(f"{stack:<8} {plan_s:>11.3f}s {floor_s:>12.3f}s {ratio:>6.2f}")
    print(f"worst ratio {worst:.2f} (target <= 2.00): {'OK' if worst <= 2.0 else 'OVER TARGET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
