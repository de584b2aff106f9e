"""Google Cloud and cluster-level pieces of the gke-gpu-serving stack.

``__version__`` is the single place the project's version lives: every GCP label set and every
Kubernetes object carries it (see :mod:`infra.naming`), so one stack is one versioned unit.
"""

__version__ = "0.1.0"
