"""The Discovery checker itself: it must reject what the API rejects, or the payload tests prove nothing."""

from __future__ import annotations

from tests.reality import discovery


def test_a_conforming_data_set_has_no_errors():
    data_set = {"timeSeriesQuery": {"prometheusQuery": "up"}, "plotType": "LINE", "minAlignmentPeriod": "60s"}
    assert discovery.errors("monitoring.v1", "DataSet", data_set) == []


def test_an_unknown_field_is_an_error():
    (error,) = discovery.errors("monitoring.v1", "DataSet", {"prometheusQuery": "up"})
    assert "DataSet.prometheusQuery: unknown field" in error


def test_a_value_outside_the_enum_is_an_error():
    (error,) = discovery.errors("container.v1", "GPUSharingConfig", {"gpuSharingStrategy": "TIME-SHARING"})
    assert "'TIME-SHARING' is not one of" in error


def test_an_output_only_field_is_an_error():
    (error,) = discovery.errors("container.v1", "DNSEndpointConfig", {"endpoint": "x.gke.goog"})
    assert "output only" in error


def test_a_malformed_duration_is_an_error():
    (error,) = discovery.errors("monitoring.v1", "DataSet", {"minAlignmentPeriod": "1m"})
    assert "is not a duration" in error


def test_a_wrong_shape_is_an_error():
    (error,) = discovery.errors("container.v1", "MonitoringComponentConfig", {"enableComponents": "DCGM"})
    assert "expected an array" in error


def test_int64_fields_take_decimal_strings_and_numbers_but_not_words():
    assert discovery.errors("container.v1", "AcceleratorConfig", {"acceleratorCount": "2"}) == []
    assert discovery.errors("container.v1", "AcceleratorConfig", {"acceleratorCount": 2}) == []
    assert discovery.errors("container.v1", "AcceleratorConfig", {"acceleratorCount": "two"})


def test_deprecated_fields_are_reported_apart():
    value = {"privateClusterConfig": {"enablePrivateNodes": True}}
    assert discovery.errors("container.v1", "Cluster", value) == []
    assert discovery.deprecations("container.v1", "Cluster", value) == [
        "Cluster.privateClusterConfig.enablePrivateNodes"
    ]
