"""Post/redirect/get for the pages' forms. A form that fails (invalid
input, a rule, a conflict) is not answered with a page: what the user typed
and why it failed are kept in the session under a one-time id, and the
browser is redirected to the page that shows the form (``?form=<id>``),
which binds the form again from it. So the address bar never shows a
command's URL and a reload never sends the form again.

The session is a database table, so the customer's contact and address
(personal data, stored nowhere else in clear but the read models that
forgetting scrubs) are never kept: the form comes back without them and
asks for them again."""

import secrets

from django.http import HttpRequest, HttpResponseRedirect, QueryDict

from orders.forms import new_form_key
from orders.shipping_forms import PERSONAL_FIELD_NAMES

PARAM = "form"
SESSION_KEY = "form_states"
KEEP = 10  # the newest states of a session; older ones are dropped
NOT_KEPT = {"csrfmiddlewaretoken", "confirmed"} | PERSONAL_FIELD_NAMES
STAND_INS = {"email": "not-kept@example.com"}  # valid values: see bind
RETYPE = (
    "The contact and address fields are personal data and are not kept after a refused form: type them again."
)


def save(request: HttpRequest, page: str, action: str, data: QueryDict, errors=(), **extra) -> str:
    """Keep a failed form of ``page`` (an order id, "order-list", ...) and
    return the id the redirect carries. The form gets a new one-time key: the
    next submission is a new attempt."""
    token = secrets.token_urlsafe(12)
    fields = {name: values for name, values in data.lists() if name not in NOT_KEPT}
    if "form_key" in fields:
        fields["form_key"] = [new_form_key()]
    retype = sorted(n for n in PERSONAL_FIELD_NAMES if any(v.strip() for v in data.getlist(n)))
    states = dict(request.session.get(SESSION_KEY, {}))
    states[token] = {
        "page": page,
        "action": action,
        "data": fields,
        "errors": list(errors),
        "retype": retype,
        **extra,
    }
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
    fields), its own errors checked again and the command's errors added.
    Personal fields that were typed but not kept are checked with stand-ins
    (so the other errors are the ones the user saw) and shown empty, with
    one line asking for them again."""
    data = QueryDict(mutable=True)
    for name, values in state["data"].items():
        data.setlist(name, values)
    for name, value in (replace or {}).items():
        data[name] = value
    retype = [name for name in state.get("retype", ()) if name not in data]
    shown = data.copy()
    for name in retype:
        data[name] = STAND_INS.get(name, "not kept")
    form = form_class(data, **kwargs)
    form.is_valid()
    form.data = shown
    for error in state["errors"]:
        form.add_error(None, error)
    if any(name in form.fields for name in retype):
        form.add_error(None, RETYPE)
    return form


def redirect(url: str, token: str, anchor: str = "") -> HttpResponseRedirect:
    """303: the browser GETs the page that shows the kept form."""
    response = HttpResponseRedirect(f"{url}?{PARAM}={token}" + (f"#{anchor}" if anchor else ""))
    response.status_code = 303
    return response
