"""A fresh project's first ``pulumi up``: every Google Cloud and GKE precondition holds in the
resource graph each example stack (and each variant config) records."""

from __future__ import annotations

import pytest

from tests.reality.captures import CAPTURES
from tests.reality.preconditions import PRECONDITIONS, Graph


@pytest.mark.parametrize("precondition", PRECONDITIONS, ids=[p.name for p in PRECONDITIONS])
@pytest.mark.parametrize(("label", "get"), CAPTURES, ids=[c[0] for c in CAPTURES])
def test_precondition_holds_in_the_recorded_graph(label, get, precondition):
    capture = get()
    problems = list(precondition.check(capture, Graph(capture)))
    assert problems == [], f"{precondition.fact} ({precondition.source}):\n" + "\n".join(problems)
