"""gke-gpu-serving: load and validate config, build the platform, export what operators need."""

import pulumi

import workloads
from infra import config, platform

try:
    cfg = config.load()
except config.ConfigError as exc:
    # RunError: Pulumi prints the message alone, without a Python traceback.
    raise pulumi.RunError(f"invalid stack configuration:\n{exc}") from None

built = platform.build(cfg)
served = workloads.build(cfg, built)
for key, value in {**built.exports(), **served.exports()}.items():
    pulumi.export(key, value)
