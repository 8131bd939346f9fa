"""The analytics as a plain-text table (the `parley analytics` command)."""

from __future__ import annotations

from parley.analytics.schemas import AnalyticsOut


def _figure(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:.2f}{unit}"


def as_table(analytics: AnalyticsOut) -> str:
    """Days, then totals and the period's figures, one per line."""
    lines = [
        f"conversation {analytics.conversation_id}  {analytics.start} .. {analytics.end}",
        "",
        f"{'date':<12}{'messages':>10}{'active':>8}",
    ]
    lines += [
        f"{day.date!s:<12}{day.messages:>10}{day.active_members:>8}" for day in analytics.days
    ]
    lines += [
        f"{'total':<12}{analytics.totals.messages:>10}{analytics.totals.active_members:>8}",
        "",
        f"median first response: {_figure(analytics.median_first_response_seconds, ' s')}",
        f"read rate: {_figure(analytics.read_rate)}",
        "top reactions: "
        + (", ".join(f"{item.emoji} {item.count}" for item in analytics.top_reactions) or "-"),
        "top hashtags: "
        + (", ".join(f"#{item.tag} {item.count}" for item in analytics.top_hashtags) or "-"),
    ]
    return "\n".join(lines)
