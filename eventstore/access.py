"""Who may open the staff pages (the audit trail here; the projection pages
use it too): anonymous visitors are sent to sign in; a signed-in user who
is not staff gets the application's 403 page saying who may (never the
admin's sign-in page)."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

STAFF_ONLY = "Only staff users can open this page. Ask a staff user if you need what it shows."


def staff_required(reason: str = STAFF_ONLY):
    """Decorate a view for staff only; ``reason`` is what the 403 page says."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not (user.is_active and user.is_staff):
                raise PermissionDenied(reason)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
