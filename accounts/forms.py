"""The desk's login form: password, then a one-time code for editors who turned two-step login on.

Two-step login is optional per editor (see views.py). django-otp stores the TOTP devices, checks
codes and throttles guessing per device; the login lockout (lockout.py, django-axes) counts wrong
passwords and wrong codes alike.
"""

from __future__ import annotations

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.utils.translation import gettext_lazy as _

from .lockout import record_failed_code
from .otp import confirmed_device, verify


class LoginForm(AdminAuthenticationForm):
    otp_token = forms.CharField(
        label=_("Code from your authenticator app"),
        help_text=_("Only if you turned on two-step login."),
        required=False,
        max_length=12,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "otp_required": _("Enter the 6-digit code from your authenticator app."),
    }

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        device = confirmed_device(user)
        if device is None:
            return
        token = self.cleaned_data.get("otp_token", "")
        if not token:
            raise forms.ValidationError(self.error_messages["otp_required"], code="otp_required")
        error = verify(device, token)  # the message says why: wrong code, or too many tries
        if error:
            record_failed_code(self.request, self.cleaned_data["username"])
            raise forms.ValidationError(error, code="otp_invalid")
        # django-otp's user_logged_in handler marks the session as verified with this device.
        user.otp_device = device


class TokenForm(forms.Form):
    token = forms.CharField(
        label=_("6-digit code"),
        max_length=12,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )

    def __init__(self, *args, device=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.device = device

    def clean_token(self):
        token = self.cleaned_data["token"]
        error = verify(self.device, token)
        if error:
            raise forms.ValidationError(error)
        return token
