"""The naming and label helpers: budgets, DNS-1123, one label set."""

from hypothesis import given
from hypothesis import strategies as st

from infra import __version__, naming

part = st.from_regex(r"[a-z][a-z0-9]{0,20}", fullmatch=True)


def test_short_names_are_kept_as_given():
    assert naming.budget_name("gpu-serving", "dev", "gke", max_len=40) == "gpu-serving-dev-gke"


def test_long_names_are_cut_to_budget_with_a_stable_hash():
    name = naming.budget_name("a" * 30, "b" * 30, max_len=40)
    assert len(name) == 40
    assert name == naming.budget_name("a" * 30, "b" * 30, max_len=40)


def test_two_long_names_with_a_shared_prefix_stay_distinct():
    assert naming.budget_name("x" * 50, "one", max_len=30) != naming.budget_name("x" * 50, "two", max_len=30)


@given(st.lists(part, min_size=1, max_size=6), st.integers(min_value=12, max_value=63))
def test_budget_name_is_always_dns1123_within_budget(parts, max_len):
    name = naming.budget_name(*parts, max_len=max_len)
    assert naming.is_dns1123_label(name, max_len=max_len)


def test_non_dns_parts_are_rejected():
    try:
        naming.budget_name("Bad_Name", max_len=40)
    except ValueError as exc:
        assert "DNS-1123" in str(exc)
    else:
        raise AssertionError("expected ValueError")


def test_service_account_ids_fit_gcp_6_to_30_rule():
    assert len(naming.service_account_id("gpu-serving-staging", "custom-metrics-adapter")) <= 30
    assert len(naming.service_account_id("a", "b")) >= 6


def test_gpu_pool_name_says_what_it_holds():
    assert naming.gpu_pool_name("nvidia-tesla-t4", 1, "n1-standard-8", spot=False) == "t4x1-n1s8"
    assert naming.gpu_pool_name("nvidia-l4", 2, "g2-standard-24", spot=True) == "l4x2-g2s24-spot"


def test_gpu_pool_name_carries_sharing_and_clients():
    name = naming.gpu_pool_name("nvidia-tesla-t4", 1, "n1-highmem-8", spot=False, sharing="time-sharing", max_clients=4)
    assert name == "t4x1-n1m8-ts4"


def test_gcp_labels_carry_project_environment_component_version():
    labels = naming.gcp_labels("prod", "cluster")
    assert labels == {
        "project": "gke-gpu-serving",
        "environment": "prod",
        "component": "cluster",
        "version": __version__.replace(".", "-"),
        "managed-by": "pulumi",
    }


def test_gcp_labels_cannot_be_overridden_by_extra_labels():
    assert naming.gcp_labels("dev", "cluster", {"environment": "prod", "team": "ml"})["environment"] == "dev"


def test_k8s_labels_use_recommended_keys_and_the_project_version():
    labels = naming.k8s_labels("dev", "gpu-driver", "nvidia-driver-installer")
    assert labels["app.kubernetes.io/version"] == __version__
    assert labels["app.kubernetes.io/part-of"] == "gke-gpu-serving"
    assert labels["app.kubernetes.io/name"] == "nvidia-driver-installer"
