"""Entry point the Pulumi CLI runs (``pulumi preview --policy-pack policies``): assemble the pack.

Constructing ``PolicyPack`` starts the analyzer's gRPC server and blocks, so nothing else may
construct it; the rules live in ``rules/`` and are tested and run offline from there.
"""

from pulumi_policy import PolicyPack
from rules import PACK_NAME, POLICIES

PolicyPack(name=PACK_NAME, policies=POLICIES)
