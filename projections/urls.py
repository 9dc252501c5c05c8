from django.urls import path

from projections import api

urlpatterns = [
    path("api/orders/", api.OrderCollectionApi.as_view(), name="api-orders"),
    path("api/orders/<uuid:order_id>", api.OrderDetailApi.as_view(), name="api-order"),
    path("api/projections/", api.ProjectionsApi.as_view(), name="api-projections"),
    path("api/inventory/", api.InventoryListApi.as_view(), name="api-inventory"),
]

from projections import views  # noqa: E402

urlpatterns += [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("projections/", views.projection_status, name="projection-status"),
    path("projections/<str:name>/retry", views.projection_retry, name="projection-retry"),
]
