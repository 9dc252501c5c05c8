"""Read models in the admin, for inspection only: projections own them."""

from django.contrib import admin

from eventstore.admin import ReadOnlyAdmin
from projections.models import (
    CatalogueProduct,
    CustomerSummary,
    DailySales,
    InventoryLevel,
    OrderLine,
    OrderSummary,
    ProjectionCheckpoint,
    ProjectionFailure,
)


@admin.register(OrderSummary)
class OrderSummaryAdmin(ReadOnlyAdmin):
    list_display = ("order_id", "customer_id", "status", "line_count", "total_cents", "placed_at", "version")
    list_filter = ("status",)
    search_fields = ("=order_id", "=customer_id")
    ordering = ("-placed_at",)


@admin.register(OrderLine)
class OrderLineAdmin(ReadOnlyAdmin):
    list_display = ("order_id", "line_no", "sku", "quantity", "price_cents", "line_total_cents", "status")
    search_fields = ("=order_id", "sku")


@admin.register(CustomerSummary)
class CustomerSummaryAdmin(ReadOnlyAdmin):
    list_display = (
        "customer_id",
        "orders_placed",
        "orders_open",
        "orders_shipped",
        "orders_cancelled",
        "lifetime_total_cents",
    )
    search_fields = ("customer_id",)


@admin.register(DailySales)
class DailySalesAdmin(ReadOnlyAdmin):
    list_display = (
        "day",
        "orders_placed",
        "orders_shipped",
        "orders_cancelled",
        "booked_cents",
        "revenue_cents",
    )
    ordering = ("-day",)


@admin.register(ProjectionCheckpoint)
class ProjectionCheckpointAdmin(ReadOnlyAdmin):
    list_display = ("name", "position", "tx_id", "events_seen", "events_applied", "updated_at")


@admin.register(ProjectionFailure)
class ProjectionFailureAdmin(ReadOnlyAdmin):
    list_display = (
        "projection",
        "position",
        "event_type",
        "attempts",
        "last_failed_at",
        "resolution",
        "resolved_by",
    )
    list_filter = ("projection", "resolution")


@admin.register(InventoryLevel)
class InventoryLevelAdmin(ReadOnlyAdmin):
    list_display = ("sku", "on_hand", "reserved", "available", "refused", "updated_at")
    search_fields = ("sku",)


@admin.register(CatalogueProduct)
class CatalogueProductAdmin(ReadOnlyAdmin):
    list_display = ("sku", "name", "price_cents", "active", "version", "updated_at")
    list_filter = ("active",)
    search_fields = ("sku", "name")
