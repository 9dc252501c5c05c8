from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic.base import RedirectView
from drf_spectacular.views import SpectacularSwaggerView

from config.health import healthz, readyz
from config.metrics import MetricsView
from config.views import AuthTokenApi, DocumentedEventCatalogApi, SchemaView, ThrottledLoginView, admin_login

urlpatterns = [
    # First: Django tries the patterns in order for every request, and the
    # order API and pages are most of them (no pattern here overlaps theirs).
    path("", include("orders.urls")),
    path("admin/login/", admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", MetricsView.as_view(), name="metrics"),
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/auth/token", AuthTokenApi.as_view(), name="api-token"),
    path("api/catalog/events", DocumentedEventCatalogApi.as_view(), name="event-catalog"),
    path("", include("eventstore.urls")),
    path("", include("projections.urls")),
]

handler400 = "config.errors.bad_request"
handler403 = "config.errors.permission_denied"
handler404 = "config.errors.page_not_found"
handler500 = "config.errors.server_error"
