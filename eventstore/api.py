"""HTTP read access to the event catalog."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from eventstore.registry import registry


class EventCatalogApi(APIView):
    """Every registered event type, its schema versions and their JSON Schemas."""

    @extend_schema(
        operation_id="event_catalog",
        summary="The event catalog",
        responses={200: OpenApiResponse(description="List of event types with their versioned JSON Schemas")},
    )
    def get(self, request: Request) -> Response:
        return Response({"event_types": registry.catalog()})
