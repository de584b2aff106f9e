"""PromQL read with a real parser (promql-parser: the Rust `promql-parser` crate of GreptimeDB,
which follows Prometheus' grammar), so the dashboard's and the alerts' queries are checked as
the query engine reads them: every selector with its matchers, every ``on (...)`` label list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import promql_parser


@dataclass(frozen=True)
class Selector:
    metric: str
    labels: dict[str, tuple[str, str]]  # label -> (operator, value); __name__ excluded


def _op(matcher: Any) -> str:
    return str(matcher.op).rsplit(".", 1)[-1]


def _walk(node: Any, selectors: list[Selector], matchings: list[list[str]]) -> None:
    kind = type(node).__name__
    if kind == "MatrixSelector":
        node = node.vector_selector
        kind = "VectorSelector"
    if kind == "VectorSelector":
        labels = {m.name: (_op(m), m.value) for m in node.matchers.matchers}
        name = node.name or labels.pop("__name__", (None, ""))[1]
        labels.pop("__name__", None)
        selectors.append(Selector(name, labels))
        return
    if kind == "BinaryExpr":
        if node.modifier is not None and node.modifier.matching is not None:
            matchings.append(list(node.modifier.matching.labels))
        _walk(node.lhs, selectors, matchings)
        _walk(node.rhs, selectors, matchings)
    elif kind in ("AggregateExpr", "ParenExpr", "UnaryExpr", "SubqueryExpr"):
        _walk(node.expr, selectors, matchings)
        if getattr(node, "param", None) is not None:
            _walk(node.param, selectors, matchings)
    elif kind == "Call":
        for arg in node.args:
            _walk(arg, selectors, matchings)


def parse(query: str) -> tuple[list[Selector], list[list[str]]]:
    """(selectors, ``on`` label lists) of ``query``; raises ValueError when it does not parse."""
    selectors: list[Selector] = []
    matchings: list[list[str]] = []
    _walk(promql_parser.parse(query), selectors, matchings)
    return selectors, matchings
