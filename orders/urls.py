from django.urls import path

from orders import (
    api,
    confirm_views,
    customer_api,
    customer_views,
    export,
    history_api,
    inventory_api,
    inventory_views,
    views,
)

urlpatterns = [
    path("api/orders/", api.OrderCollectionApi.as_view(), name="api-orders"),
    path("api/orders/<uuid:order_id>", api.OrderDetailApi.as_view(), name="api-order"),
    path("api/orders/<uuid:order_id>/items", api.OrderItemAddApi.as_view(), name="api-order-items"),
    path(
        "api/orders/<uuid:order_id>/items/<str:sku>", api.OrderItemRemoveApi.as_view(), name="api-order-item"
    ),
    path("api/orders/<uuid:order_id>/ship", api.OrderShipApi.as_view(), name="api-order-ship"),
    path("api/orders/<uuid:order_id>/cancel", api.OrderCancelApi.as_view(), name="api-order-cancel"),
    path(
        "api/orders/<uuid:order_id>/shipping-address",
        customer_api.OrderShippingAddressApi.as_view(),
        name="api-order-shipping-address",
    ),
    path("api/customers/<str:customer_id>", customer_api.CustomerApi.as_view(), name="api-customer"),
    path(
        "api/customers/<str:customer_id>/forget",
        customer_api.CustomerForgetApi.as_view(),
        name="api-customer-forget",
    ),
    path("api/orders/<uuid:order_id>/events", history_api.OrderEventsApi.as_view(), name="api-order-events"),
    path("api/orders/<uuid:order_id>/state", history_api.OrderStateApi.as_view(), name="api-order-state"),
    path("api/inventory/", inventory_api.InventoryListApi.as_view(), name="api-inventory"),
    path(
        "api/inventory/<str:sku>/receive",
        inventory_api.InventoryReceiveApi.as_view(),
        name="api-inventory-receive",
    ),
]

# Web UI
urlpatterns += [
    path("", views.home, name="home"),
    path("orders/", views.order_list, name="order-list"),
    path("orders/export.csv", export.order_export, name="order-export"),
    path("orders/<uuid:order_id>/", views.order_detail, name="order-detail"),
    path("orders/<uuid:order_id>/reservation", views.order_reservation, name="order-reservation"),
    path("orders/<uuid:order_id>/<str:action>", views.order_command, name="order-command"),
    path("orders/<uuid:order_id>/<str:action>/confirm", confirm_views.confirm_command, name="order-confirm"),
    path("inventory/", inventory_views.inventory, name="inventory"),
    path("customers/<str:customer_id>/", customer_views.customer_detail, name="customer-detail"),
    path("customers/<str:customer_id>/forget", customer_views.customer_forget, name="customer-forget"),
]
