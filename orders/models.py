"""Write-side tables of the orders app. Orders themselves live only as events."""

from django.db import models


class OrderManagement(models.Model):
    """Holds the "order manager" permission; it has no table.

    Users with ``orders.manage_orders`` (and all staff) may issue order
    commands; the "Order managers" group carries it.
    """

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("manage_orders", "Can issue order commands (place, change, ship, cancel)")]

    def __str__(self) -> str:
        return "order management"


class IdempotencyRecord(models.Model):
    """The result of a command sent with an ``Idempotency-Key``, stored in the
    same transaction as its events so a retry returns it and appends nothing."""

    scope = models.CharField(max_length=64, help_text="whose key: the user id")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    command = models.CharField(max_length=64)
    result = models.JSONField()
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "idempotency_keys"
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="idempotency_scope_key_uniq")]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"


class FulfilmentProcess(models.Model):
    """The fulfilment process manager's memory of one order: what each line
    needs, what is reserved, what was refused. Written in the same
    transaction as the commands it issues and its checkpoint."""

    order_id = models.UUIDField(primary_key=True)
    status = models.CharField(max_length=20, help_text="reserving, confirmed, cancelled or shipped")
    lines = models.JSONField(default=dict, help_text='{sku: {"wanted": n, "reserved": n, "refused": bool}}')
    order_version = models.PositiveIntegerField(default=0, help_text="last order event handled")
    correlation_id = models.CharField(max_length=128, blank=True)
    outcome = models.TextField(blank=True, help_text="why the process cancelled the order, if it did")
    handled = models.JSONField(
        default=list, help_text="ids of the latest events handled (duplicates are ignored)"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "fulfilment_processes"
        verbose_name_plural = "fulfilment processes"

    def __str__(self) -> str:
        return f"fulfilment of {self.order_id}: {self.status}"
