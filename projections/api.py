"""The read side over HTTP: read-your-writes for any read-model query
(``X-Min-Position`` in, ``X-Projection-Position`` out), and the projections'
status."""

from collections.abc import Callable

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.rest import Problem
from config.serializers import problem_responses
from eventstore import GlobalPosition
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
PROJECTION_POSITION = OpenApiParameter(
    "X-Projection-Position",
    int,
    OpenApiParameter.HEADER,
    response=True,
    description="Deprecated: position of the last event the read models behind this answer have applied. "
    "Positions do not order the log; compare X-Consistency-Token instead.",
)
CONSISTENCY_TOKEN = OpenApiParameter(
    "X-Consistency-Token",
    str,
    OpenApiParameter.HEADER,
    response=True,
    description="How far the read models behind this answer have got, as a consistency token: it is at or "
    "past a command's consistency_token (compared as strings) once they include that command.",
)
READ_PARAMETERS = [MIN_POSITION, PROJECTION_POSITION, CONSISTENCY_TOKEN]
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


class ProjectionsApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        operation_id="projection_status",
        summary="Each projection: events consumed, consistency, checkpoint, lag, failures; and an open "
        "transaction holding them back, if one is (staff)",
        responses={200: OpenApiTypes.OBJECT, **problem_responses(400, 401, 403, 406)},
    )
    def get(self, request: Request) -> Response:
        projections = status()
        return Response({"projections": projections, "held_back_by": holding_back(projections)})
