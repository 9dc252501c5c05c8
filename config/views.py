"""Small project-wide views: health check and the cached OpenAPI schema."""

import threading

from django.db import connection
from django.http import HttpRequest, JsonResponse
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework.response import Response


def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the app can reach its database (for load balancers and tests)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any database failure means "not ready"
        return JsonResponse({"status": "unavailable", "detail": type(exc).__name__}, status=503)
    return JsonResponse({"status": "ok"})


class SchemaView(SpectacularAPIView):
    """The OpenAPI schema, generated once per process. Generation is not
    thread-safe in drf-spectacular (its extension registry loads lazily), and
    the schema does not change while the process runs."""

    _lock = threading.Lock()
    _cache: dict = {}

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        key = request.GET.get("lang")
        with self._lock:
            if key not in self._cache:
                self._cache[key] = super().get(request, *args, **kwargs)
            cached = self._cache[key]
        return Response(cached.data, headers={"Content-Disposition": cached.get("Content-Disposition", "")})
