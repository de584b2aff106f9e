"""What runs on the cluster: the serving workloads and the apps around them.

Kept separate from :mod:`infra` (Google Cloud and cluster-level resources) as the design card
asks; the serving components arrive here model by model.
"""
