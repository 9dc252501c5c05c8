from django.urls import path

import config.converters  # noqa: F401  (registers the "id" path converter)
from orders import (
    api,
    catalogue_views,
    command_views,
    confirm_views,
    customer_api,
    customer_views,
    export,
    history_api,
    inventory_api,
    inventory_views,
    product_api,
    stock_panel,
    trace_views,
    views,
)

urlpatterns = [
    path("api/orders/", api.OrderCollectionApi.as_view(), name="api-orders"),
    path("api/orders/<id:order_id>", api.OrderDetailApi.as_view(), name="api-order"),
    path("api/orders/<id:order_id>/items", api.OrderItemAddApi.as_view(), name="api-order-items"),
    path("api/orders/<id:order_id>/items/<str:sku>", api.OrderItemApi.as_view(), name="api-order-item"),
    path("api/orders/<id:order_id>/notes", api.OrderNoteApi.as_view(), name="api-order-notes"),
    path("api/orders/<id:order_id>/ship", api.OrderShipApi.as_view(), name="api-order-ship"),
    path("api/orders/<id:order_id>/cancel", api.OrderCancelApi.as_view(), name="api-order-cancel"),
    path(
        "api/orders/<id:order_id>/shipping-address",
        customer_api.OrderShippingAddressApi.as_view(),
        name="api-order-shipping-address",
    ),
    path("api/customers/<str:customer_id>", customer_api.CustomerApi.as_view(), name="api-customer"),
    path(
        "api/customers/<str:customer_id>/forget",
        customer_api.CustomerForgetApi.as_view(),
        name="api-customer-forget",
    ),
    path("api/orders/<id:order_id>/events", history_api.OrderEventsApi.as_view(), name="api-order-events"),
    path("api/orders/<id:order_id>/state", history_api.OrderStateApi.as_view(), name="api-order-state"),
    path("api/products/", product_api.ProductCollectionApi.as_view(), name="api-products"),
    path("api/products/<str:sku>", product_api.ProductDetailApi.as_view(), name="api-product"),
    path("api/products/<str:sku>/price", product_api.ProductPriceApi.as_view(), name="api-product-price"),
    path("api/products/<str:sku>/rename", product_api.ProductRenameApi.as_view(), name="api-product-rename"),
    path(
        "api/products/<str:sku>/discontinue",
        product_api.ProductDiscontinueApi.as_view(),
        name="api-product-discontinue",
    ),
    path(
        "api/products/<str:sku>/reactivate",
        product_api.ProductReactivateApi.as_view(),
        name="api-product-reactivate",
    ),
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
    path("orders/<id:order_id>/", views.order_detail, name="order-detail"),
    path("orders/<id:order_id>/reservation", stock_panel.order_reservation, name="order-reservation"),
    path("orders/<id:order_id>/trace", trace_views.order_trace, name="order-trace"),
    path("orders/line-row", catalogue_views.line_row, name="order-line-row"),
    path("orders/customer-lookup", customer_views.customer_lookup, name="order-customer-lookup"),
    path("orders/customer-prefill", customer_views.customer_prefill, name="order-customer-prefill"),
    path("catalogue/", catalogue_views.catalogue, name="catalogue"),
    path("catalogue/suggest", catalogue_views.suggest, name="catalogue-suggest"),
    path("catalogue/<str:sku>/<str:action>", catalogue_views.product_command, name="catalogue-command"),
    path("orders/<id:order_id>/item-info", catalogue_views.item_info, name="order-item-info"),
    path("orders/<id:order_id>/<str:action>", command_views.order_command, name="order-command"),
    path("orders/<id:order_id>/<str:action>/confirm", confirm_views.confirm_command, name="order-confirm"),
    path("inventory/", inventory_views.inventory, name="inventory"),
    path("customers/<str:customer_id>/", customer_views.customer_detail, name="customer-detail"),
    path("customers/<str:customer_id>/forget", customer_views.customer_forget, name="customer-forget"),
]
