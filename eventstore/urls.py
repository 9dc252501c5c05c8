from django.urls import path

from eventstore import views

# GET /api/catalog/events (eventstore.api) is routed by config.urls, which documents its errors.
urlpatterns = [
    path("audit/", views.audit, name="audit"),
]
