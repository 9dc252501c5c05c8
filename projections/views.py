"""Pages over the read models: the dashboard, and projection status (staff)."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from eventstore.access import staff_required
from projections import failures, selectors
from projections.base import registry
from projections.health import judge, lag_bound
from projections.status import holding_back, status


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    today = timezone.now().date()
    start = today - timedelta(days=59)
    days = {d.day: d for d in selectors.daily_sales(start, today)}
    series = []
    for offset in range(60):
        day = start + timedelta(days=offset)
        row = days.get(day)
        series.append(
            {
                "day": day.isoformat(),
                "placed": row.orders_placed if row else 0,
                "shipped": row.orders_shipped if row else 0,
                "cancelled": row.orders_cancelled if row else 0,
                "revenue_cents": row.revenue_cents if row else 0,
                "booked_cents": row.booked_cents if row else 0,
            }
        )
    statuses = selectors.status_counts()
    totals = {
        "placed": sum(s["placed"] for s in series),
        "revenue_cents": sum(s["revenue_cents"] for s in series),
        "cancelled": sum(s["cancelled"] for s in series),
    }
    return render(
        request,
        "projections/dashboard.html",
        {
            "nav": "dashboard",
            "series": series,
            "statuses": statuses,
            "totals": totals,
            "start": start,
            "end": today,
        },
    )


@staff_required()
def projection_status(request: HttpRequest) -> HttpResponse:
    template = "projections/_status_table.html" if request.htmx else "projections/status.html"
    rows = status()
    context = {
        "nav": "projections",
        "projections": rows,
        "judgment": judge(rows),
        "lag_bound": lag_bound(),
        "held_back_by": holding_back(rows),
        "now": timezone.now(),
    }
    return render(request, template, context)


@staff_required()
@require_POST
def projection_retry(request: HttpRequest, name: str) -> HttpResponse:
    if name not in registry:
        raise Http404
    failure = failures.retry(name, by=request.user.get_username())
    if failure is None:
        messages.info(request, f"{name} is not held; nothing to retry.")
    else:
        messages.success(request, f"{name} will retry the event at position {failure.position}.")
    return redirect("projection-status")
