"""Who is refused at the desk's login after failed attempts, on top of django-axes.

axes counts failures per (username, client address) pair (AXES_LOCKOUT_PARAMETERS in settings),
so an attacker who fails with an editor's name locks only that name *from the attacker's
address*: the editor still logs in from anywhere else, and colleagues behind the same newsroom
address are not affected. Locking a name from everywhere, or an address for everyone after a
few failures, would hand an attacker a switch that turns the desk off on a breaking-news night.

What the pair alone lets through is an address trying many names (credential stuffing): axes
can count failures per address, but not *different names* per address, so that one rule lives
here, read from axes' own AccessAttempt rows (shared by every worker process, expired by axes
after the cool-off, deleted for a pair when that pair logs in).

The client address is the one behind our trusted proxies (ops/clients.py via
AXES_CLIENT_IP_CALLABLE), never a forwarded header from anyone else.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


class AddressThrottledError(PermissionDenied):
    """Failures from one address span too many different usernames; nobody logs in from it for now."""


def check_address_user_limit(ip_address: str | None, since: datetime) -> None:
    """Refuse an address whose failed logins since `since` name LIVEBLOG_LOGIN_ADDRESS_USER_LIMIT
    or more different usernames.

    A colleague's typo followed by a good login does not count (the pair's rows are gone), so a
    shared newsroom address reaches the limit only if that many people fail and give up.
    """
    limit: int = settings.LIVEBLOG_LOGIN_ADDRESS_USER_LIMIT
    names = (
        AccessAttempt.objects.filter(ip_address=ip_address, attempt_time__gte=since)
        .values("username")
        .distinct()
    )
    if names[:limit].count() >= limit:
        raise AddressThrottledError(f"failed logins for {limit} or more usernames from one address")


class LoginLockoutHandler(AxesDatabaseHandler):
    """axes' database handler (the pair lock) plus the address rule above (AXES_HANDLER)."""

    def is_locked(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> bool:
        return bool(super().is_locked(request, credentials)) or _address_throttled(request)

    def user_login_failed(
        self, sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
    ) -> None:
        super().user_login_failed(sender, credentials, request, **kwargs)
        # The failure that reaches the address limit answers with the lockout page at once, as
        # axes does for the failure that reaches the pair's limit.
        if request is None or getattr(request, "axes_locked_out", False) or not _address_throttled(request):
            return
        request.axes_locked_out = True  # type: ignore[attr-defined]
        request.axes_credentials = credentials  # type: ignore[attr-defined]
        user_locked_out.send(
            "axes",
            request=request,
            username=get_client_username(request, credentials),
            ip_address=request.axes_ip_address,  # type: ignore[attr-defined]
        )


def _address_throttled(request: HttpRequest) -> bool:
    try:
        check_address_user_limit(request.axes_ip_address, get_cool_off_threshold(request))  # type: ignore[attr-defined]
    except AddressThrottledError:
        return True
    return False


def record_failed_code(request: HttpRequest | None, username: str) -> None:
    """A wrong (or throttled) two-step code after the right password counts as a failed login.

    django-otp throttles guesses per device; counting them here as well keeps the code step
    inside the same pair and address limits: a stolen password buys no extra guesses.
    """
    user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """The page a refused login gets (AXES_LOCKOUT_CALLABLE): 429, the same for every kind of lock.

    Trying again after the cool-off always works: tries while locked are not counted
    (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT off), so by then every counted failure has expired.
    """
    minutes = max(1, round(get_cool_off(request).total_seconds() / 60))
    return render(request, "admin/locked_out.html", {"minutes": minutes}, status=429)
