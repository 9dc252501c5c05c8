"""The app's URLs plus the CRUD baseline's, for the server ``bench http`` starts."""

from django.urls import include, path

from bench.crud import CrudAddItem, CrudPlace
from config.urls import handler400, handler403, handler404, handler500  # noqa: F401

urlpatterns = [
    path("bench/crud/orders/", CrudPlace.as_view()),
    path("bench/crud/orders/<uuid:order_id>/items", CrudAddItem.as_view()),
    path("", include("config.urls")),
]
