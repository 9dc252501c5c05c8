"""The read side over HTTP: read-your-writes for any read-model query
(``X-Min-Position`` in, ``X-Projection-Position`` out), and the projections'
status."""

from collections.abc import Callable

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.rest import Problem
from config.serializers import problem_responses
from eventstore import GlobalPosition
from projections.base import ASYNC, INLINE
from projections.consistency import (
    InvalidConsistencyTokenError,
    log_reached,
    parse_token,
    projection_position,
    reached,
    wait_for,
    wait_for_event,
)
from projections.status import holding_back, status

MIN_POSITION = OpenApiParameter(
    "X-Min-Position",
    str,
    OpenApiParameter.HEADER,
    description="A command's `consistency_token` (or, deprecated, its `position`): the read waits (up to "
    "READ_YOUR_WRITES_TIMEOUT, 2 s by default) until the read models include that event, then answers; "
    "503 with Retry-After if they do not in time. The start of the log (0, or the token of zeros) "
    "needs no waiting.",
)
# The answers a read model gave (found, not found, not caught up in time):
# not a refusal before it was asked (400, 401, 406).
_READ_ANSWERS = [200, 404, 503]
PROJECTION_POSITION = OpenApiParameter(
    "X-Projection-Position",
    int,
    OpenApiParameter.HEADER,
    response=_READ_ANSWERS,
    description="Deprecated: position of the last event the read models behind this answer have applied. "
    "Positions do not order the log; compare X-Consistency-Token instead.",
)
CONSISTENCY_TOKEN = OpenApiParameter(
    "X-Consistency-Token",
    str,
    OpenApiParameter.HEADER,
    response=_READ_ANSWERS,
    description="How far the read models behind this answer have got, as a consistency token: it is at or "
    "past a command's consistency_token (compared as strings) once they include that command.",
)
LAGGING_RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    {"type": "integer", "minimum": 0},
    OpenApiParameter.HEADER,
    response=[503],
    required=True,
    description="Seconds to wait before sending the read again (X-Min-Position not reached in time).",
)
READ_PARAMETERS = [MIN_POSITION, PROJECTION_POSITION, CONSISTENCY_TOKEN, LAGGING_RETRY_AFTER]
# Reads of the event log itself (an order's history, its state at a time).
LOG_READ_PARAMETERS = [
    OpenApiParameter(
        "X-Min-Position",
        str,
        OpenApiParameter.HEADER,
        description="A command's `consistency_token` (or, deprecated, its `position`): the answer includes "
        "that command's events (read from a replica once it has replayed them, within REPLICA_WAIT_SECONDS, "
        "else from the primary). 400 if it names no event.",
    ),
    OpenApiParameter(
        "X-Consistency-Token",
        str,
        OpenApiParameter.HEADER,
        response=True,
        description="A place in the log up to which the log behind this answer is complete (the furthest "
        "projection checkpoint there): at or past a command's consistency_token, the answer includes that "
        "command. It may include later events too.",
    ),
    OpenApiParameter(
        "X-Projection-Position",
        int,
        OpenApiParameter.HEADER,
        response=True,
        description="Deprecated: the bare position of that place. Compare X-Consistency-Token instead.",
    ),
]


def _min_position(request: Request, headers: Callable[[], dict]) -> GlobalPosition | None:
    """The place X-Min-Position names (None without the header); 400 if it
    is no consistency token, answered with ``headers()`` (queries: only then)."""
    raw = request.headers.get("X-Min-Position")
    if raw is None:
        return None
    try:
        return parse_token(raw)
    except InvalidConsistencyTokenError as exc:
        raise Problem(
            400,
            "invalid-min-position",
            "Invalid X-Min-Position",
            f"X-Min-Position must be a consistency token (or position) a command answered with: {exc}.",
            headers=headers(),
        ) from None


def consistent_read(request: Request, names: tuple[str, ...]) -> None:
    """Honour X-Min-Position: wait for ``names`` to reach it, or 503."""
    target = _min_position(request, lambda: position_headers(names))
    if target is not None and not wait_for(names, target):
        raise Problem(
            503,
            "projection-lagging",
            "Read models are behind",
            "The read models have not reached that command's events yet; retry shortly.",
            retry_after=1,
            headers=position_headers(names),
        )


def consistent_log_read(request: Request) -> None:
    """Honour X-Min-Position on a read of the event log: read where the
    command's events are (a replica that has replayed them, else the primary)."""
    target = _min_position(request, log_position_headers)
    if target is not None:
        wait_for_event(target)


def log_position_headers() -> dict[str, str]:
    """How far the event log behind an answer is known complete (both forms)."""
    reached_ = log_reached()
    return {"X-Projection-Position": str(reached_.position), "X-Consistency-Token": reached_.token}


def position_headers(names: tuple[str, ...]) -> dict[str, str]:
    """How far the read models behind an answer have got (both forms)."""
    return {
        "X-Projection-Position": str(projection_position(names)),
        "X-Consistency-Token": reached(names).token,
    }


def with_position(response: Response, names: tuple[str, ...]) -> Response:
    for name, value in position_headers(names).items():
        response[name] = value
    return response


# -- what the status answers (for the OpenAPI schema only: projections.status builds it) --

PROJECTION_STATES = ("running", "retrying", "held")


class CheckpointSerializer(serializers.Serializer):
    tx_id = serializers.IntegerField(help_text="Transaction id of the last event processed (0: none yet).")
    position = serializers.IntegerField(
        help_text="Global position of the last event processed (0: none yet)."
    )
    updated_at = serializers.DateTimeField(allow_null=True, help_text="null: it has not moved yet.")


class ProjectionFailureSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    position = serializers.IntegerField()
    event_type = serializers.CharField()
    aggregate_id = serializers.UUIDField()
    error = serializers.CharField()
    attempts = serializers.IntegerField()
    first_failed_at = serializers.DateTimeField()
    last_failed_at = serializers.DateTimeField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True, help_text="null: still open.")
    resolution = serializers.ChoiceField(
        choices=["retried", "skipped", "rebuilt"], allow_blank=True, help_text="Empty while open."
    )
    resolved_by = serializers.CharField(allow_blank=True, help_text="Empty while open.")


class ProjectionStatusSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="Its checkpoint's name (a partition's: e.g. order_list.0of4).")
    projection = serializers.CharField(help_text="The projection or process manager it runs.")
    partition = serializers.CharField(help_text='e.g. "2of4" for a partition, "0" for a whole one.')
    description = serializers.CharField()
    event_types = serializers.ListField(child=serializers.CharField())
    consistency = serializers.ChoiceField(choices=[INLINE, ASYNC])
    version = serializers.IntegerField()
    checkpoint = CheckpointSerializer()
    events_seen = serializers.IntegerField()
    events_applied = serializers.IntegerField()
    lag_events = serializers.IntegerField(help_text="Events after its checkpoint (counted up to a limit).")
    lag_events_capped = serializers.BooleanField(help_text="lag_events reached the limit: more wait.")
    lag_seconds = serializers.FloatField(help_text="How long the next event to apply has waited.")
    state = serializers.ChoiceField(
        choices=PROJECTION_STATES, help_text="held: stopped at a failed event, out of retries."
    )
    failures = ProjectionFailureSerializer(many=True, help_text="The last five, newest first.")


class OpenTransactionSerializer(serializers.Serializer):
    """A transaction of this database holding a transaction id (PostgreSQL's pg_stat_activity)."""

    pid = serializers.IntegerField()
    state = serializers.CharField(allow_null=True)
    application_name = serializers.CharField()
    client_addr = serializers.CharField(allow_null=True)
    age_seconds = serializers.FloatField()


class ProjectionsApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        operation_id="projection_status",
        summary="Each projection: events consumed, consistency, checkpoint, lag, failures; and an open "
        "transaction holding them back, if one is (staff)",
        responses={
            200: inline_serializer(
                "ProjectionStatusList",
                {
                    "projections": ProjectionStatusSerializer(many=True),
                    "held_back_by": OpenTransactionSerializer(
                        allow_null=True,
                        help_text="While projections lag: the oldest transaction open for more than "
                        "a moment, which holds back the events written after it (null otherwise, and on "
                        "SQLite).",
                    ),
                },
            ),
            **problem_responses(400, 401, 403, 406),
        },
    )
    def get(self, request: Request) -> Response:
        projections = status()
        return Response({"projections": projections, "held_back_by": holding_back(projections)})
