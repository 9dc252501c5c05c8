from django.urls import path

from eventstore.api import EventCatalogApi

urlpatterns = [
    path("api/catalog/events", EventCatalogApi.as_view(), name="event-catalog"),
]
