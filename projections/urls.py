from django.urls import path

from projections import api

urlpatterns = [
    path("api/orders/", api.OrderCollectionApi.as_view(), name="api-orders"),
    path("api/orders/<uuid:order_id>", api.OrderDetailApi.as_view(), name="api-order"),
    path("api/projections/", api.ProjectionsApi.as_view(), name="api-projections"),
]
