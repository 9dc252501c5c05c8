"""The confirmation step of the commands that destroy something (cancel an
order, remove a line): the order page's form GETs a page that says what
will happen, and only its own form POSTs the command (with
``confirmed=yes``). Plain HTML: no JavaScript needed."""

from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from eventstore import EventStore
from orders import prg
from orders.command_views import CONFIRMED_ACTIONS, FORM_ANCHORS
from orders.domain.commuting import still_meant
from orders.forms import new_form_key
from orders.http import MANAGERS_ONLY, can_manage
from orders.views import COMMAND_FORMS
from projections import selectors


@login_required
@require_GET
def confirm_command(request: HttpRequest, order_id: UUID, action: str) -> HttpResponse:
    if action not in CONFIRMED_ACTIONS:
        raise Http404
    if not can_manage(request.user):
        raise PermissionDenied(MANAGERS_ONLY)
    found = selectors.order_get(order_id)
    # Not in the order list: placed a moment ago? The primary knows (a replica may not yet).
    if found is None and not EventStore(using="default").stream_version(order_id):
        raise Http404("No such order")
    order, lines = found or (None, [])  # None: placed a moment ago, not in the order list yet
    form = COMMAND_FORMS[action](request.GET)
    if not form.is_valid():  # back to the order page's form, with its errors
        token = prg.save(request, str(order_id), action, request.GET)
        return prg.redirect(reverse("order-detail", args=[order_id]), token, anchor=FORM_ANCHORS[action])
    data = form.cleaned_data
    line = next((line for line in lines if line.sku == data.get("sku")), None)
    # Changes since the order page was drawn that would stop the command
    # (orders.stale_forms): said now, not after the confirmation.
    since = EventStore(using="default").load(order_id, after_version=data["version"])
    stopped_by = since if since and not still_meant(action, (e.event_type for e in since)) else []
    return render(
        request,
        "orders/confirm.html",
        {
            "nav": "orders",
            "action": action,
            "order_id": order_id,
            "order": order,
            "line": line,
            "data": data,
            "stopped_by": stopped_by,
            "form_key": new_form_key(),
            "closed_statuses": ("cancelled", "shipped"),  # the read model's word (the rules refuse)
        },
    )
