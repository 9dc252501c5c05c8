"""Are the projections healthy? One judgment for ``GET /readyz``, the
projections page, ``manage.py projections status`` and the
``projections_ready`` metric.

Not ready when a projection is held by a failure (out of retries), or when
its next event has been waiting longer than PROJECTION_LAG_ALERT_SECONDS:
a worker that is stopped, stuck or far too slow, or a transaction left open
that holds the gap-safe read back. A projection retrying an event is still
ready until the lag bound is passed (it is held after a few attempts).
"""

from dataclasses import dataclass, field

from django.conf import settings

from projections.status import status


@dataclass(frozen=True)
class Judgment:
    ready: bool
    reasons: list[str] = field(default_factory=list)

    @property
    def line(self) -> str:
        """ "ready", or "not ready: " and the reasons."""
        return "ready" if self.ready else "not ready: " + "; ".join(self.reasons)


def lag_bound() -> float:
    return float(getattr(settings, "PROJECTION_LAG_ALERT_SECONDS", 30.0))


def judge(rows: list[dict] | None = None, *, using: str = "default") -> Judgment:
    """The judgment on ``rows`` (``projections.status.status()``; read now
    when not given)."""
    rows = status(using) if rows is None else rows
    bound = lag_bound()
    reasons = []
    for row in rows:
        if row["state"] == "held":
            failure = next((f for f in row["failures"] if f["resolved_at"] is None), None)
            where = f" at position {failure['position']} ({failure['event_type']})" if failure else ""
            # The error's class only: this answer is public, the message may not be.
            error = failure["error"].split(":", 1)[0] if failure else "a failure"
            reasons.append(f"{row['name']} is held{where} by {error}")
        elif row["lag_events"] and row["lag_seconds"] > bound:
            more = "+" if row.get("lag_events_capped") else ""
            reasons.append(
                f"{row['name']} has {row['lag_events']}{more} event(s) waiting, the oldest for "
                f"{row['lag_seconds']:.0f} s (over {bound:g} s)"
            )
    return Judgment(not reasons, reasons)


def readiness_check(using: str = "default") -> dict:
    """The projections' part of GET /readyz (config.health)."""
    rows = status(using)
    judgment = judge(rows)
    return {
        "ok": judgment.ready,
        "reasons": judgment.reasons,
        "lag_alert_seconds": lag_bound(),
        "projections": [
            {
                "name": row["name"],
                "projection": row["projection"],
                "partition": row["partition"],
                "state": row["state"],
                "position": row["checkpoint"]["position"],
                "lag_events": row["lag_events"],
                "lag_seconds": row["lag_seconds"],
            }
            for row in rows
        ],
    }
