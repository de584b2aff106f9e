"""The offline plan as a command: output, rendering, and clean failures."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import stack_capture
from tooling import plan
from tooling.offline import PROJECT_DIR


def test_plan_prints_resources_grouped_with_a_summary(capsys):
    assert plan.main(["--stack", "dev"]) == 0
    out = capsys.readouterr().out
    assert "gke-gpu-serving:gpu:GpuNodePool  gpu-t4" in out
    assert "machine=n1-standard-8 accelerator=1x nvidia-tesla-t4" in out
    assert "kube-system/nvidia-driver-installer" in out
    assert out.rstrip().splitlines()[-1].startswith("Summary: ")


def test_plan_never_prints_the_kubeconfig(capsys):
    plan.main(["--stack", "prod"])
    out = capsys.readouterr().out
    assert "kubeconfig: [secret]" in out and "certificate-authority-data" not in out


def test_plan_renders_kubernetes_objects(tmp_path, capsys):
    assert plan.main(["--stack", "dev", "--render", str(tmp_path)]) == 0
    rendered = {
        (d["kind"], d["metadata"]["name"]) for d in (yaml.safe_load(m.read_text()) for m in tmp_path.glob("*.yaml"))
    }
    captured = {(r.inputs["kind"], r.inputs["metadata"]["name"]) for r in stack_capture("dev").kubernetes_objects()}
    assert rendered == captured
    ds = yaml.safe_load((tmp_path / "daemonset-kube-system-nvidia-driver-installer.yaml").read_text())
    assert ds["metadata"]["namespace"] == "kube-system"


def test_unknown_stack_exits_2(capsys):
    assert plan.main(["--stack", "nope"]) == 2
    assert "known stacks: dev, prod, staging" in capsys.readouterr().err


def _bad_project(tmp_path: Path) -> Path:
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(PROJECT_DIR / name, tmp_path / name)
    doc = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())
    doc["config"]["gke-gpu-serving:gpuPools"][0]["machineType"] = "g2-standard-8"
    (tmp_path / "Pulumi.bad.yaml").write_text(yaml.safe_dump(doc))
    return tmp_path


def test_bad_config_exits_2_with_the_key_and_no_traceback(tmp_path):
    project = _bad_project(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "tooling.plan", "--stack", "bad", "--project-dir", str(project)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "gke-gpu-serving:gpuPools[0].machineType" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_the_same_stack_always_prints_the_same_plan(capsys):
    # Registration order varies with when dependencies resolve; the plan must not.
    outputs = []
    for _ in range(2):
        plan.main(["--stack", "prod"])
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
