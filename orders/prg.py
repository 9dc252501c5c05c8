"""Post/redirect/get for the pages' forms. A form that fails (invalid
input, a rule, a conflict) is not answered with a page: what the user typed
and why it failed are kept in the session under a one-time id, and the
browser is redirected to the page that shows the form (``?form=<id>``),
which binds the form again from it. So the address bar never shows a
command's URL and a reload never sends the form again.

The session is a database table, and personal data is never stored in
clear in one: the customer's contact and address fields are kept encrypted
under that customer's data key (eventstore.personal, as in the events), so
forgetting the customer erases them here too. Without a customer to seal
them for (no valid customer id typed), or once forgotten, they are not
kept: the form comes back without them and asks for them again."""

import secrets

from django.http import HttpRequest, HttpResponseRedirect, QueryDict

from eventstore.errors import PersonalDataError
from eventstore.personal import ERASED, PersonalData
from orders.domain import rules
from orders.forms import new_form_key
from orders.shipping_forms import PERSONAL_FIELD_NAMES

PARAM = "form"
SESSION_KEY = "form_states"
KEEP = 10  # the newest states of a session; older ones are dropped
NOT_KEPT = {"csrfmiddlewaretoken", "confirmed"} | PERSONAL_FIELD_NAMES  # (personal: sealed apart)
STAND_INS = {"email": "not-kept@example.com"}  # valid values: see bind
RETYPE = "The contact and address fields were not kept (personal data): type them again."


def save(
    request: HttpRequest,
    page: str,
    action: str,
    data: QueryDict,
    errors=(),
    *,
    subject: str | None = None,
    **extra,
) -> str:
    """Keep a failed form of ``page`` (an order id, "order-list", ...) and
    return the id the redirect carries. The form gets a new one-time key: the
    next submission is a new attempt. Personal fields are sealed under the
    data key of ``subject`` (the customer id they belong to; made if the
    customer has none yet), or not kept without one."""
    token = secrets.token_urlsafe(12)
    fields = {name: values for name, values in data.lists() if name not in NOT_KEPT}
    if "form_key" in fields:
        fields["form_key"] = [new_form_key()]
    state = {"page": page, "action": action, "data": fields, "errors": list(errors), **extra}
    typed = {
        n: data.getlist(n) for n in sorted(PERSONAL_FIELD_NAMES) if any(v.strip() for v in data.getlist(n))
    }
    if typed and subject is not None and rules.is_customer_id(subject):
        state["personal"] = {"subject": subject, "sealed": PersonalData().seal(subject, typed, _aad(token))}
    elif typed:
        state["retype"] = sorted(typed)
    states = dict(request.session.get(SESSION_KEY, {}))
    states[token] = state
    for old in list(states)[:-KEEP]:
        del states[old]
    request.session[SESSION_KEY] = states
    return token


def _aad(token: str) -> bytes:
    return f"form:{token}".encode()


def _personal(state: dict) -> tuple[dict[str, list], list[str]]:
    """The kept personal fields that can still be read, and those to ask for again."""
    kept = state.get("personal")
    if not isinstance(kept, dict):
        return {}, list(state.get("retype", ()))
    try:
        opened = PersonalData().reveal(kept["sealed"], _aad(state["token"]))
    except (PersonalDataError, KeyError, TypeError, ValueError):
        return {}, sorted(kept.get("sealed") or ())
    readable = {name: values for name, values in opened.items() if values != ERASED}
    return readable, sorted(set(opened) - set(readable))


def load(request: HttpRequest, page: str) -> dict | None:
    """The kept form named by the request's ``?form=`` for ``page``, if any."""
    token = request.GET.get(PARAM)
    state = request.session.get(SESSION_KEY, {}).get(token) if token else None
    if not isinstance(state, dict) or state.get("page") != page:
        return None
    return {**state, "token": token}


def bind(form_class, state: dict, *, replace: dict | None = None, **kwargs):
    """The form bound again to what the user typed (with ``replace``d
    fields), its own errors checked again and the command's errors added.
    Personal fields that were not kept (or whose customer was forgotten
    since) are checked with stand-ins, so the other errors are the ones the
    user saw, and shown empty, with one line asking for them again."""
    data = QueryDict(mutable=True)
    for name, values in state["data"].items():
        data.setlist(name, values)
    personal, retype = _personal(state)
    for name, values in personal.items():
        data.setlist(name, values)
    for name, value in (replace or {}).items():
        data[name] = value
    retype = [name for name in retype if name not in data]
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
