"""The CrossGuard policy pack, importable from the repository root as ``policies.rules``.

The Pulumi CLI runs ``policies/__main__.py`` with ``policies/`` as its working directory; tests
and ``infra/policy_check.py`` import the same rules through this package instead.
"""
