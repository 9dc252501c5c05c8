"""The read side over HTTP: read-your-writes for any read-model query
(``X-Min-Position`` in, ``X-Projection-Position`` out), and the projections'
status."""

import re

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.rest import Problem
from config.serializers import problem_responses
from eventstore import EventStore
from projections.consistency import projection_position, wait_for_position
from projections.status import status

MIN_POSITION = OpenApiParameter(
    "X-Min-Position",
    int,
    OpenApiParameter.HEADER,
    description="A command's `position`: the read waits (up to READ_YOUR_WRITES_TIMEOUT, 5 s) until the "
    "read models include that event, then answers; 503 if they do not in time.",
)
PROJECTION_POSITION = OpenApiParameter(
    "X-Projection-Position",
    int,
    OpenApiParameter.HEADER,
    response=True,
    description="Position of the last event the read models behind this answer have applied.",
)


def consistent_read(request: Request, names: tuple[str, ...]) -> None:
    """Honour X-Min-Position: wait for ``names`` to reach it, or 503."""
    raw = request.headers.get("X-Min-Position")
    if raw is None:
        return
    if not re.fullmatch(r"\s*[0-9]{1,18}\s*", raw):
        raise Problem(
            400, "invalid-min-position", "Invalid X-Min-Position", "X-Min-Position must be a position."
        )
    position = int(raw)
    if EventStore().global_position_of(position) is None:
        raise Problem(
            400,
            "invalid-min-position",
            "Invalid X-Min-Position",
            f"No event has position {position}; send the position a command answered with.",
            headers=position_header(names),
        )
    if not wait_for_position(names, position):
        raise Problem(
            503,
            "projection-lagging",
            "Read models are behind",
            f"The read models have not reached position {position} yet; retry shortly.",
            retry_after=1,
            headers=position_header(names),
        )


def position_header(names: tuple[str, ...]) -> dict[str, str]:
    return {"X-Projection-Position": str(projection_position(names))}


def with_position(response: Response, names: tuple[str, ...]) -> Response:
    response["X-Projection-Position"] = str(projection_position(names))
    return response


class ProjectionsApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        operation_id="projection_status",
        summary="Each projection: events consumed, consistency, checkpoint, lag, failures (staff)",
        responses={200: OpenApiTypes.OBJECT, **problem_responses(401, 403)},
    )
    def get(self, request: Request) -> Response:
        return Response({"projections": status()})
