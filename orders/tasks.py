from celery import shared_task


@shared_task(name="orders.tasks.purge_idempotency_keys", ignore_result=True)
def purge_idempotency_keys() -> int:
    from orders.idempotency import purge_expired

    return purge_expired()
