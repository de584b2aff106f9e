"""The kubeconfig the stack's Kubernetes provider uses and ``pulumi stack output kubeconfig``
gives operators: no static credential, tokens from ``gke-gcloud-auth-plugin``.
"""

from __future__ import annotations

import yaml


def kubeconfig(cluster_name: str, server: str, ca_certificate: str | None) -> str:
    """A kubeconfig for ``cluster_name`` at ``server`` that gets tokens from ``gke-gcloud-auth-plugin``.

    The plugin (``gcloud components install gke-gcloud-auth-plugin``) mints short-lived tokens
    from the caller's gcloud or ADC credentials; the kubeconfig itself holds no secret but the
    endpoint, and is still exported as a secret so the address of a private cluster stays out
    of logs. ``ca_certificate`` is None for the DNS endpoint: it serves a publicly trusted
    certificate, not one of the cluster CA, and ``gcloud container clusters get-credentials
    --dns-endpoint`` writes no ``certificate-authority-data`` either (googlecloudsdk
    api_lib/container/kubeconfig.py).
    """
    user = f"{cluster_name}-gcloud"
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster_name,
                "cluster": {"server": f"https://{server}"}
                | ({"certificate-authority-data": ca_certificate} if ca_certificate else {}),
            }
        ],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": user}}],
        "current-context": cluster_name,
        "users": [
            {
                "name": user,
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": "gke-gcloud-auth-plugin",
                        "installHint": "Install gke-gcloud-auth-plugin: gcloud components install gke-gcloud-auth-plugin",
                        "provideClusterInfo": True,
                        "interactiveMode": "Never",
                    }
                },
            }
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False)
