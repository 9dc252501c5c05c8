from django.urls import path

from orders import api

urlpatterns = [
    path("api/auth/token", api.AuthTokenApi.as_view(), name="api-token"),
    path("api/orders/<uuid:order_id>/items", api.OrderItemAddApi.as_view(), name="api-order-items"),
    path(
        "api/orders/<uuid:order_id>/items/<str:sku>", api.OrderItemRemoveApi.as_view(), name="api-order-item"
    ),
    path("api/orders/<uuid:order_id>/ship", api.OrderShipApi.as_view(), name="api-order-ship"),
    path("api/orders/<uuid:order_id>/cancel", api.OrderCancelApi.as_view(), name="api-order-cancel"),
    path("api/orders/<uuid:order_id>/events", api.OrderEventsApi.as_view(), name="api-order-events"),
    path("api/orders/<uuid:order_id>/state", api.OrderStateApi.as_view(), name="api-order-state"),
]
