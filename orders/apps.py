from django.apps import AppConfig
from django.db.models.signals import post_migrate


class OrdersConfig(AppConfig):
    name = "orders"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from config import rest
        from eventstore import labels
        from orders import audit_names, catalog, fulfilment, problems
        from projections.base import registry

        catalog.register_order_events()
        labels.resolvers.append(audit_names.customer_streams)
        rest.ERROR_MAPPERS.append(problems.order_problem)
        registry.register(fulfilment.FulfilmentProcessManager())
        post_migrate.connect(ensure_order_managers_group, sender=self)


def ensure_order_managers_group(sender, using="default", **kwargs) -> None:
    """The "Order managers" group carries the permission to send commands.
    Also created by a migration; kept here so it survives a database flush."""
    from django.contrib.auth.models import Group, Permission
    from django.db import connections

    if Permission._meta.db_table not in connections[using].introspection.table_names():
        return  # only some apps were migrated so far (e.g. `migrate eventstore`)
    permission = (
        Permission.objects.using(using)
        .filter(codename="manage_orders", content_type__app_label="orders")
        .first()
    )
    if permission is None:
        return
    group, _ = Group.objects.using(using).get_or_create(name="Order managers")
    group.permissions.add(permission)
