"""Read models (denormalised, rebuildable from the event log) and the
bookkeeping of the projections that maintain them."""

from django.db import models

# -- bookkeeping -----------------------------------------------------------------


class ProjectionCheckpoint(models.Model):
    """How far a projection has read the global log: (tx_id, position) of the
    last event it processed, written in the same transaction as its tables."""

    name = models.CharField(max_length=100, primary_key=True)
    tx_id = models.BigIntegerField(default=0)
    position = models.BigIntegerField(default=0)
    events_seen = models.BigIntegerField(default=0)
    events_applied = models.BigIntegerField(default=0)
    projection_version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(null=True)

    class Meta:
        db_table = "projection_checkpoints"

    def __str__(self) -> str:
        return f"{self.name} @ {self.position}"


class ProjectionFailure(models.Model):
    """An event a projection could not apply. While unresolved and out of
    retries, the projection is held at that event."""

    projection = models.CharField(max_length=100)
    position = models.BigIntegerField()
    tx_id = models.BigIntegerField()
    event_type = models.CharField(max_length=100)
    aggregate_id = models.UUIDField()
    error = models.TextField()
    traceback = models.TextField()
    attempts = models.PositiveIntegerField(default=1)
    first_failed_at = models.DateTimeField()
    last_failed_at = models.DateTimeField()
    next_attempt_at = models.DateTimeField(null=True)
    resolved_at = models.DateTimeField(null=True)
    resolution = models.CharField(max_length=20, blank=True, help_text="retried or skipped")
    resolved_by = models.CharField(max_length=150, blank=True)

    class Meta:
        db_table = "projection_failures"
        indexes = [models.Index(fields=["projection", "resolved_at"], name="projection_failure_open_idx")]

    def __str__(self) -> str:
        return f"{self.projection} failed at {self.position}: {self.error[:60]}"


# -- read models -----------------------------------------------------------------


class OrderSummary(models.Model):
    """One row per order, for browsing and filtering (the order_list read model)."""

    order_id = models.UUIDField(primary_key=True)
    customer_id = models.CharField(max_length=64)
    status = models.CharField(max_length=20)
    line_count = models.PositiveIntegerField()
    item_count = models.PositiveIntegerField()
    total_cents = models.BigIntegerField()
    placed_at = models.DateTimeField()
    shipped_at = models.DateTimeField(null=True)
    cancelled_at = models.DateTimeField(null=True)
    cancel_reason = models.TextField(blank=True)
    carrier = models.CharField(max_length=100, blank=True)
    tracking_number = models.CharField(max_length=100, blank=True)
    requires_confirmation = models.BooleanField(default=False, help_text="waits for stock before it can ship")
    version = models.PositiveIntegerField()
    last_position = models.BigIntegerField()
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "order_list"
        verbose_name = "order summary"
        verbose_name_plural = "order summaries"
        # Keyset pagination and filters: every ordering ends in order_id.
        indexes = [
            models.Index(fields=["placed_at", "order_id"], name="order_list_placed_idx"),
            models.Index(fields=["total_cents", "order_id"], name="order_list_total_idx"),
            models.Index(fields=["status", "placed_at", "order_id"], name="order_list_status_placed_idx"),
            models.Index(fields=["customer_id", "placed_at", "order_id"], name="order_list_customer_idx"),
        ]

    def __str__(self) -> str:
        return f"order {self.order_id} ({self.status})"


class OrderLine(models.Model):
    """The lines of each order (order_lines read model)."""

    id = models.BigAutoField(primary_key=True)
    order_id = models.UUIDField()
    sku = models.CharField(max_length=40)
    quantity = models.PositiveIntegerField()
    price_cents = models.BigIntegerField()
    line_total_cents = models.BigIntegerField()
    line_no = models.PositiveIntegerField(help_text="order of first appearance")

    class Meta:
        db_table = "order_lines"
        constraints = [models.UniqueConstraint(fields=["order_id", "sku"], name="order_lines_order_sku_uniq")]

    def __str__(self) -> str:
        return f"{self.sku} x{self.quantity}"


class CustomerSummary(models.Model):
    """Per customer: orders by status and lifetime value (customer_summary)."""

    customer_id = models.CharField(max_length=64, primary_key=True)
    orders_placed = models.PositiveIntegerField(default=0)
    orders_open = models.PositiveIntegerField(default=0)
    orders_shipped = models.PositiveIntegerField(default=0)
    orders_cancelled = models.PositiveIntegerField(default=0)
    lifetime_total_cents = models.BigIntegerField(default=0, help_text="open and shipped orders")
    first_order_at = models.DateTimeField()
    last_order_at = models.DateTimeField()

    class Meta:
        db_table = "customer_summary"
        verbose_name = "customer summary"
        verbose_name_plural = "customer summaries"

    def __str__(self) -> str:
        return self.customer_id


class CustomerOrder(models.Model):
    """customer_summary's own memory of each order (customer, status, total),
    so it needs no other read model."""

    order_id = models.UUIDField(primary_key=True)
    customer_id = models.CharField(max_length=64)
    status = models.CharField(max_length=20)
    total_cents = models.BigIntegerField()
    version = models.PositiveIntegerField()

    class Meta:
        db_table = "customer_summary_orders"

    def __str__(self) -> str:
        return str(self.order_id)


class DailySales(models.Model):
    """Per UTC day: orders placed, shipped, cancelled; revenue (totals of
    orders shipped that day) and booked value (totals at placement)."""

    day = models.DateField(primary_key=True)
    orders_placed = models.PositiveIntegerField(default=0)
    orders_shipped = models.PositiveIntegerField(default=0)
    orders_cancelled = models.PositiveIntegerField(default=0)
    booked_cents = models.BigIntegerField(default=0)
    revenue_cents = models.BigIntegerField(default=0)

    class Meta:
        db_table = "daily_sales"
        verbose_name = "daily sales"
        verbose_name_plural = "daily sales"

    def __str__(self) -> str:
        return str(self.day)


class DailySalesOrder(models.Model):
    """daily_sales's own memory of each order's running total."""

    order_id = models.UUIDField(primary_key=True)
    total_cents = models.BigIntegerField()
    version = models.PositiveIntegerField()

    class Meta:
        db_table = "daily_sales_orders"

    def __str__(self) -> str:
        return str(self.order_id)


class InventoryLevel(models.Model):
    """Per SKU: on hand, reserved for orders, available (inventory read model)."""

    sku = models.CharField(max_length=40, primary_key=True)
    on_hand = models.BigIntegerField()
    reserved = models.BigIntegerField()
    available = models.BigIntegerField()
    refused = models.PositiveIntegerField(default=0, help_text="reservations refused for lack of stock")
    version = models.PositiveIntegerField()
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "inventory_levels"
        indexes = [models.Index(fields=["available", "sku"], name="inventory_available_idx")]

    def __str__(self) -> str:
        return f"{self.sku}: {self.available} available"


# Read models that hold personal data live in a module of their own.
from projections.shipping_models import CustomerDetails, OrderShipping  # noqa: E402, F401
