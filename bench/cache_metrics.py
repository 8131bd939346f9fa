"""Cache hit and miss counters from Parley's /metrics page, for the benchmarks (W1, W2)."""

from __future__ import annotations

import re

_CACHE_LINE = re.compile(r"^parley_cache_(hits|misses)_total\{([^}]*)\}\s+(\S+)$", re.MULTILINE)
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def cache_counters(metrics_text: str) -> dict[str, tuple[float, float]]:
    """Per cache layer (label `cache`), hits and misses summed over backends."""
    counters: dict[str, list[float]] = {}
    for kind, labels, value in _CACHE_LINE.findall(metrics_text):
        layer = dict(_LABEL.findall(labels)).get("cache", "?")
        pair = counters.setdefault(layer, [0.0, 0.0])
        pair[0 if kind == "hits" else 1] += float(value)
    return {layer: (hits, misses) for layer, (hits, misses) in counters.items()}


def cache_hit_rates(
    before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]]
) -> dict[str, float | None]:
    """Hit rate per layer over an interval (None for a layer with no lookups in it)."""
    rates: dict[str, float | None] = {}
    for layer, (hits, misses) in sorted(after.items()):
        old_hits, old_misses = before.get(layer, (0.0, 0.0))
        new_hits, new_misses = hits - old_hits, misses - old_misses
        total = new_hits + new_misses
        rates[layer] = new_hits / total if total > 0 else None
    return rates
