"""HTTP read access to the event catalog. Its OpenAPI description, with the
problem+json errors the API's plumbing answers, is added where the URL is
routed (config.views.DocumentedEventCatalogApi)."""

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from eventstore.registry import registry


class EventCatalogApi(APIView):
    """Every registered event type, its schema versions and their JSON Schemas."""

    def get(self, request: Request) -> Response:
        return Response({"event_types": registry.catalog()})
