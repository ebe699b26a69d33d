"""Two-step login for the desk: an editor turns it on with an authenticator app, or off again.

Each editor manages only their own device; turning it off needs a current code, so a session
left open on a shared newsroom computer cannot quietly remove it.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login

from . import otp
from .forms import TokenForm


@require_http_methods(["GET", "POST"])
def two_factor(request):
    device = otp.confirmed_device(request.user)
    if device is not None:
        return _turn_off(request, device)
    return _turn_on(request, otp.pending_device(request.user))


def _turn_on(request, device):
    form = TokenForm(request.POST or None, device=device)
    if request.method == "POST" and form.is_valid():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        otp_login(request, device)  # this session has just proven the code
        messages.success(request, _("Two-step login is on. From now on, log in with a code from your app."))
        return redirect("two-factor")
    return _page(request, form, enabled=False, qr_code=otp.qr_data_uri(device), secret=otp.secret(device))


def _turn_off(request, device):
    form = TokenForm(request.POST or None, device=device)
    if request.method == "POST" and form.is_valid():
        device.delete()
        messages.success(request, _("Two-step login is off. You log in with your password alone."))
        return redirect("two-factor")
    return _page(request, form, enabled=True, device=device)


def _page(request, form, **context):
    context = {**admin.site.each_context(request), "title": _("Two-step login"), "form": form, **context}
    return TemplateResponse(request, "accounts/two_factor.html", context, status=422 if form.errors else 200)
