"""Operator tooling on top of the program: the offline runtime (the program under the Pulumi
SDK's mocks), the offline plan, its saved form and diff, the pull-request report, the cost
estimate, the policy check, the signal paths and the teardown gate. Nothing in ``infra/`` or
``workloads/`` imports this package; it imports them.
"""
