"""What runs on the cluster: the serving workloads and the apps around them.

:func:`build` (:mod:`workloads.compose`) turns the validated config into one
:class:`~workloads.serving.ModelServer` per model (TorchServe, Triton, vLLM or the LLM-pipeline
predictor), the conversion Jobs that must finish before a model serves, the web front end, the
opt-in load generator and the namespace's NetworkPolicies. Every object goes through the
cluster's provider and is ``deleted_with`` the cluster: deleting the cluster deletes them anyway.
"""

from workloads.compose import Workloads, build

__all__ = ["Workloads", "build"]
