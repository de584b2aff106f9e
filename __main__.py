"""gke-gpu-serving: load and validate config, build the platform, export what operators need."""

import pulumi

from infra import config, platform

try:
    cfg = config.load()
except config.ConfigError as exc:
    # RunError: Pulumi prints the message alone, without a Python traceback.
    raise pulumi.RunError(f"invalid stack configuration:\n{exc}") from None

for key, value in platform.build(cfg).exports().items():
    pulumi.export(key, value)
