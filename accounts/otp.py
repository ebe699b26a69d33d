"""The few TOTP operations the desk needs, on top of django-otp's TOTPDevice."""

from __future__ import annotations

import base64

import segno
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

DEVICE_NAME = "Authenticator app"


def confirmed_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def pending_device(user) -> TOTPDevice:
    """The user's unconfirmed device (its secret shown until they confirm a code), made once."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def verify(device: TOTPDevice | None, token: str) -> str | None:
    """None when `token` is the device's current code, else the message for the editor."""
    if device is None:
        return _("Two-step login is not set up.")
    allowed, _details = device.verify_is_allowed()
    if not allowed:
        return _("Too many wrong codes. Wait a moment, then try again.")
    token = "".join(token.split())
    if not token.isdigit() or not device.verify_token(token):
        return _("That code is not valid. Enter the current code from your authenticator app.")
    return None


def secret(device: TOTPDevice) -> str:
    """The key in base32, in groups of four, for typing into an app by hand."""
    text = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def qr_data_uri(device: TOTPDevice) -> str:
    # An <img> with a data: URI: allowed by the CSP's img-src, no inline styles or scripts.
    return segno.make(device.config_url, error="m").svg_data_uri(scale=5, border=2)
