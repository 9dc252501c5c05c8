"""Read models that hold personal data (the customer's contact and shipping
address), for the pages that show it: the order page and the customer page.
Scrubbed by the projection that sees CustomerForgotten."""

from django.db import models


class OrderShipping(models.Model):
    """Each order's contact and shipping address (order_shipping)."""

    order_id = models.UUIDField(primary_key=True)
    customer_id = models.CharField(max_length=64)
    name = models.TextField(blank=True)
    email = models.TextField(blank=True)
    # A keyed hash of the lowercased email: the order list finds orders by it.
    email_hash = models.CharField(max_length=64, blank=True)
    address_line1 = models.TextField(blank=True)
    address_line2 = models.TextField(blank=True)
    postcode = models.TextField(blank=True)
    city = models.TextField(blank=True)
    country = models.CharField(max_length=2, blank=True)
    erased = models.BooleanField(default=False, help_text="the customer was forgotten")
    version = models.PositiveIntegerField(help_text="the order version last applied")
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "order_shipping"
        indexes = [
            models.Index(fields=["customer_id"], name="order_shipping_customer_idx"),
            models.Index(fields=["email_hash"], name="order_shipping_email_idx"),
        ]

    def __str__(self) -> str:
        return f"shipping of {self.order_id}"


class CustomerDetails(models.Model):
    """Each customer's latest contact and shipping address (customer_details)."""

    customer_id = models.CharField(max_length=64, primary_key=True)
    name = models.TextField(blank=True)
    email = models.TextField(blank=True)
    email_hash = models.CharField(max_length=64, blank=True)
    address_line1 = models.TextField(blank=True)
    address_line2 = models.TextField(blank=True)
    postcode = models.TextField(blank=True)
    city = models.TextField(blank=True)
    country = models.CharField(max_length=2, blank=True)
    erased = models.BooleanField(default=False, help_text="the customer was forgotten")
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "customer_details"
        indexes = [models.Index(fields=["email_hash"], name="customer_details_email_idx")]

    def __str__(self) -> str:
        return self.customer_id
