"""Django-level error pages: problem+json under /api/, HTML elsewhere."""

from django.views import defaults

from config.rest import json_problem


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def bad_request(request, exception=None):
    if _is_api(request):
        return json_problem(request, 400, "The request could not be understood.")
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    if _is_api(request):
        return json_problem(request, 403, "You do not have permission to do this.")
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception=None):
    if _is_api(request):
        return json_problem(request, 404, f"No resource at {request.path}.")
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        return json_problem(request, 500, "An unexpected error occurred; it has been logged.")
    return defaults.server_error(request)
