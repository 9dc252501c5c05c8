from django.urls import path

from orders import api, views

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
    path("api/inventory/<str:sku>/receive", api.InventoryReceiveApi.as_view(), name="api-inventory-receive"),
]

# Web UI
urlpatterns += [
    path("", views.home, name="home"),
    path("orders/", views.order_list, name="order-list"),
    path("orders/<uuid:order_id>/", views.order_detail, name="order-detail"),
    path("orders/<uuid:order_id>/reservation", views.order_reservation, name="order-reservation"),
    path("orders/<uuid:order_id>/<str:action>", views.order_command, name="order-command"),
    path("inventory/", views.inventory, name="inventory"),
]
