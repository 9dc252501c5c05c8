"""Small project-wide views: the cached OpenAPI schema, sign-in (with a
throttle), API tokens and the event catalog's documented endpoint (health
checks: config.health)."""

import threading

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import LoginView, redirect_to_login
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from drf_spectacular.views import SpectacularAPIView
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle, ScopedRateThrottle

from config.rest import JSONParser
from config.serializers import StrictSerializer, problem_responses
from eventstore.api import EventCatalogApi


class SchemaView(SpectacularAPIView):
    """The OpenAPI schema, generated once per process. Generation is not
    thread-safe in drf-spectacular (its extension registry loads lazily), and
    the schema does not change while the process runs."""

    _lock = threading.Lock()
    _cache: dict = {}

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        lang = request.GET.get("lang")
        key = lang if lang in dict(settings.LANGUAGES) else None
        with self._lock:
            if key not in self._cache:
                self._cache[key] = super().get(request, *args, **kwargs)
            cached = self._cache[key]
        return Response(cached.data, headers={"Content-Disposition": cached.get("Content-Disposition", "")})


def admin_login(request: HttpRequest):
    """The admin's way in: anonymous visitors sign in on the application's
    own page; a signed-in user who is not staff gets the 403 page saying
    who may use the admin (not the admin's sign-in form); staff go on."""
    next_url = request.GET.get("next") or "/admin/"
    if not request.user.is_authenticated:
        return redirect_to_login(next_url)
    if not request.user.is_staff:
        raise PermissionDenied("Only staff users can use the admin. Ask a staff user if you need it.")
    return admin.site.login(request)


class ThrottledLoginView(LoginView):
    """Django's sign-in page, with failed attempts limited per client address
    and username (LOGIN_FAILURES_ALLOWED) and per client address across all
    usernames (LOGIN_FAILURES_PER_CLIENT), per LOGIN_FAILURE_WINDOW seconds,
    counted in the shared cache so every process sees the same counts. The
    client address is told apart as the API's throttles do (DRF, NUM_PROXIES)."""

    def _keys(self) -> dict[str, int]:
        client = BaseThrottle().get_ident(self.request)
        username = (self.request.POST.get("username") or "")[:150].lower()
        return {
            f"login-failures:{client}:{username}": settings.LOGIN_FAILURES_ALLOWED,
            f"login-failures:{client}": settings.LOGIN_FAILURES_PER_CLIENT,
        }

    def post(self, request, *args, **kwargs):
        counts = cache.get_many(list(self._keys()))
        if any(counts.get(key, 0) >= limit for key, limit in self._keys().items()):
            form = self.get_form()
            form.add_error(None, "Too many failed attempts. Wait a few minutes and try again.")
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        for key in self._keys():
            cache.add(key, 0, settings.LOGIN_FAILURE_WINDOW)
            try:
                cache.incr(key)
            except ValueError:  # expired in between
                cache.set(key, 1, settings.LOGIN_FAILURE_WINDOW)
        return super().form_invalid(form)


class TokenRequestSerializer(StrictSerializer, AuthTokenSerializer):
    """A user's username and password (no other field)."""

    class Meta:
        ref_name = "TokenRequest"


class AuthTokenApi(ObtainAuthToken):
    """POST {"username", "password"} -> {"token"}; send it as
    ``Authorization: Token <token>``."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"
    parser_classes = [JSONParser]
    serializer_class = TokenRequestSerializer
    # As DRF's empty list, but named, so the schema says no credentials are needed.
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="obtain_token",
        summary="Exchange a username and password for an API token",
        request=TokenRequestSerializer,
        responses={
            200: inline_serializer("TokenResponse", {"token": serializers.CharField()}),
            # 401: an Authorization header with a token that is not valid (send none);
            # 403: a signed-in browser session without its CSRF token.
            **problem_responses(400, 401, 403, 406, 413, 415, 429),
        },
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class EventSchemaVersionSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    schema = serializers.DictField(
        help_text="Free-form: the JSON Schema of the event's data at this version; personal fields are "
        'marked "x-personal": true.'
    )
    upcast_from_previous = serializers.BooleanField(
        help_text="Events stored at the version before are upcast."
    )
    personal_fields = serializers.ListField(child=serializers.CharField(), help_text="Encrypted at rest.")
    personal_subject = serializers.CharField(
        allow_null=True, help_text="The field naming whose key encrypts them (null: no personal fields)."
    )


class EventTypeSerializer(serializers.Serializer):
    """An event type of the catalog (eventstore.registry builds it)."""

    event_type = serializers.CharField()
    aggregate_type = serializers.CharField(help_text="The kind of stream it is appended to, e.g. Order.")
    description = serializers.CharField()
    current_version = serializers.IntegerField(help_text="The schema version events are upcast to on read.")
    versions = EventSchemaVersionSerializer(many=True)


class DocumentedEventCatalogApi(EventCatalogApi):
    """The event store's catalog endpoint with the problem+json answers the
    API's plumbing (here, in config) gives it: the event store knows nothing of them."""

    @extend_schema(
        operation_id="event_catalog",
        summary="The event catalog",
        responses={
            200: OpenApiResponse(
                inline_serializer("EventCatalog", {"event_types": EventTypeSerializer(many=True)}),
                description="Every event type with its versioned JSON Schemas",
            ),
            **problem_responses(400, 401, 406),
        },
    )
    def get(self, request: Request):
        return super().get(request)
