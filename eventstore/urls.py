from django.urls import path

from eventstore import views
from eventstore.api import EventCatalogApi

urlpatterns = [
    path("api/catalog/events", EventCatalogApi.as_view(), name="event-catalog"),
    path("audit/", views.audit, name="audit"),
]
