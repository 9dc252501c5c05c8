"""Post/redirect/get for the pages' forms. A form that fails (invalid
input, a rule, a conflict) is not answered with a page: what the user typed
and why it failed are kept in the session under a one-time id, and the
browser is redirected to the page that shows the form (``?form=<id>``),
which binds the form again from it. So the address bar never shows a
command's URL and a reload never sends the form again."""

import secrets

from django.http import HttpRequest, HttpResponseRedirect, QueryDict

from orders.forms import new_form_key

PARAM = "form"
SESSION_KEY = "form_states"
KEEP = 10  # the newest states of a session; older ones are dropped
NOT_KEPT = {"csrfmiddlewaretoken", "confirmed"}


def save(request: HttpRequest, page: str, action: str, data: QueryDict, errors=(), **extra) -> str:
    """Keep a failed form of ``page`` (an order id, "order-list", ...) and
    return the id the redirect carries. The form gets a new one-time key: the
    next submission is a new attempt."""
    token = secrets.token_urlsafe(12)
    fields = {name: values for name, values in data.lists() if name not in NOT_KEPT}
    if "form_key" in fields:
        fields["form_key"] = [new_form_key()]
    states = dict(request.session.get(SESSION_KEY, {}))
    states[token] = {"page": page, "action": action, "data": fields, "errors": list(errors), **extra}
    for old in list(states)[:-KEEP]:
        del states[old]
    request.session[SESSION_KEY] = states
    return token


def load(request: HttpRequest, page: str) -> dict | None:
    """The kept form named by the request's ``?form=`` for ``page``, if any."""
    token = request.GET.get(PARAM)
    state = request.session.get(SESSION_KEY, {}).get(token) if token else None
    if not isinstance(state, dict) or state.get("page") != page:
        return None
    return state


def bind(form_class, state: dict, *, replace: dict | None = None, **kwargs):
    """The form bound again to what the user typed (with ``replace``d
    fields), its own errors checked again and the command's errors added."""
    data = QueryDict(mutable=True)
    for name, values in state["data"].items():
        data.setlist(name, values)
    for name, value in (replace or {}).items():
        data[name] = value
    form = form_class(data, **kwargs)
    form.is_valid()
    for error in state["errors"]:
        form.add_error(None, error)
    return form


def redirect(url: str, token: str, anchor: str = "") -> HttpResponseRedirect:
    """303: the browser GETs the page that shows the kept form."""
    response = HttpResponseRedirect(f"{url}?{PARAM}={token}" + (f"#{anchor}" if anchor else ""))
    response.status_code = 303
    return response
