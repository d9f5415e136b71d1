"""Reading ``/metrics`` as Prometheus does: the text parsed by prometheus_client's parser
into samples keyed by name and labels."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

Samples = Mapping[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def scrape(client: Any) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """What a Prometheus server scraping the web process would store."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    return parse(response.get_data(as_text=True))


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value; 0 for a counter that has not counted yet."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def grew(before: Samples, after: Samples, name: str, **labels: str) -> float:
    """How much a counter grew between two scrapes."""
    return value(after, name, **labels) - value(before, name, **labels)


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}
