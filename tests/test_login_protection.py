"""Login lockout (accounts/lockout.py over django-axes): failures lock the (username, address)
pair, an address cycling many usernames is throttled, and neither can be turned against editors.

Addresses are the client's: REMOTE_ADDR, or X-Forwarded-For only from LIVEBLOG_TRUSTED_PROXIES.
"""

import re
import time
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.db.models import F
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import EditorFactory

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
PASSWORD = "the-right-password"
ATTACKER = "198.51.100.9"
NEWSROOM = "192.0.2.44"
HOME = "203.0.113.7"
LOCKED_TEXT = "Too many failed login attempts"


def attempt(client, username, password=PASSWORD, ip=HOME, **extra):
    data = {"username": username, "password": password, "next": "/admin/"}
    response = client.post(LOGIN, data, REMOTE_ADDR=ip, **extra)
    client.logout()  # each attempt is a new visitor; a success must not carry over
    return response


def fail(client, username, times=1, ip=ATTACKER, **extra):
    return [attempt(client, username, "wrong", ip=ip, **extra).status_code for _ in range(times)]


def logged_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


def expire_failures():
    """What the cool-off does: every recorded failure is older than it (15 minutes by default)."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=16))


@pytest.fixture
def ed():
    return EditorFactory(username="ed", password=PASSWORD)


# The (username, address) pair


def test_the_pair_locks_on_the_fifth_failure_even_for_the_right_password(client, ed):
    assert fail(client, "ed", times=5) == [200, 200, 200, 200, 429]

    locked = attempt(client, "ed", ip=ATTACKER)

    assert locked.status_code == 429
    assert LOCKED_TEXT in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_an_attackers_failures_for_an_editor_do_not_stop_the_editor_elsewhere(client, ed):
    fail(client, "ed", times=20)  # far past the limit, from the attacker's address

    assert attempt(client, "ed", ip=ATTACKER).status_code == 429
    assert logged_in(attempt(client, "ed", ip=NEWSROOM))
    assert logged_in(attempt(client, "ed", ip=HOME))


def test_colleagues_at_the_locked_pairs_address_still_log_in(client, ed):
    EditorFactory(username="anna", password=PASSWORD)
    fail(client, "ed", times=5, ip=NEWSROOM)

    assert attempt(client, "ed", ip=NEWSROOM).status_code == 429
    assert logged_in(attempt(client, "anna", ip=NEWSROOM))


def test_a_few_typos_do_not_lock_anyone_out(client, ed):
    fail(client, "ed", times=4, ip=HOME)

    assert logged_in(attempt(client, "ed", ip=HOME))


def test_a_good_login_clears_its_own_pairs_failures_only(client, ed):
    fail(client, "ed", times=4, ip=HOME)
    fail(client, "ed", times=4, ip=ATTACKER)
    assert logged_in(attempt(client, "ed", ip=HOME))

    assert not AccessAttempt.objects.filter(username="ed", ip_address=HOME).exists()
    # Four more typos at home do not lock (the count started again) ...
    assert fail(client, "ed", times=4, ip=HOME) == [200] * 4
    assert logged_in(attempt(client, "ed", ip=HOME))
    # ... while the attacker's failures still stand: one more locks the attacker's pair.
    assert fail(client, "ed", ip=ATTACKER) == [429]


def test_the_pair_lock_lifts_after_the_cool_off_and_tries_while_locked_do_not_stretch_it(client, ed):
    fail(client, "ed", times=5, ip=HOME)
    fail(client, "ed", times=10, ip=HOME)  # refused while locked, not counted
    assert attempt(client, "ed", ip=HOME).status_code == 429

    expire_failures()

    assert logged_in(attempt(client, "ed", ip=HOME))


# An address trying many usernames


def test_an_address_cycling_many_usernames_is_throttled_for_everyone(client, ed, settings):
    assert settings.LIVEBLOG_LOGIN_ADDRESS_USER_LIMIT == 10
    statuses = [fail(client, f"guess{n}", ip=ATTACKER)[0] for n in range(10)]

    assert statuses == [200] * 9 + [429]  # one try each: no pair comes near its own limit
    assert attempt(client, "ed", ip=ATTACKER).status_code == 429
    assert attempt(client, "someone-new", "wrong", ip=ATTACKER).status_code == 429
    # Elsewhere nobody notices.
    assert logged_in(attempt(client, "ed", ip=NEWSROOM))


def test_a_newsroom_address_with_a_few_colleagues_typos_stays_open(client, ed):
    # Eight colleagues mistype once and give up (with ed's typos: 9 names, one under the limit);
    # typos followed by a good login are forgotten.
    for n in range(8):
        fail(client, f"colleague{n}", ip=NEWSROOM)
    for _ in range(5):
        fail(client, "ed", ip=NEWSROOM, times=2)
        assert logged_in(attempt(client, "ed", ip=NEWSROOM))

    assert logged_in(attempt(client, "ed", ip=NEWSROOM))


def test_the_address_throttle_lifts_after_the_cool_off(client, ed):
    for n in range(10):
        fail(client, f"guess{n}", ip=ATTACKER)
    assert attempt(client, "ed", ip=ATTACKER).status_code == 429

    expire_failures()

    assert logged_in(attempt(client, "ed", ip=ATTACKER))


def test_the_limits_come_from_settings(client, ed, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.LIVEBLOG_LOGIN_ADDRESS_USER_LIMIT = 3

    assert fail(client, "ed", times=2, ip=HOME) == [200, 429]
    assert [fail(client, f"guess{n}", ip=ATTACKER)[0] for n in range(3)] == [200, 200, 429]


# The lockout page


def without_nonces(response) -> str:
    return re.sub(r'nonce="[^"]*"', "", response.content.decode())


def test_the_lockout_page_gives_no_hint_what_was_wrong(client, ed):
    fail(client, "ed", times=5)  # a real editor
    fail(client, "nobody", times=5, ip=HOME)  # a name that does not exist

    real = attempt(client, "ed", ip=ATTACKER)
    made_up = attempt(client, "nobody", ip=HOME)

    assert real.status_code == made_up.status_code == 429
    assert without_nonces(real) == without_nonces(made_up)
    page = real.content.decode()
    assert "Please try again in 15 minutes" in page


def test_the_lockout_page_speaks_german(client, ed):
    fail(client, "ed", times=5)

    page = attempt(client, "ed", ip=ATTACKER, headers={"accept-language": "de"}).content.decode()

    assert "Zu viele fehlgeschlagene Anmeldeversuche" in page
    assert "in 15 Minuten" in page


# Two-step login codes count as failed logins


def current_code(device) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return f"{totp.token():0{device.digits}d}"


def with_code(client, username, token, ip):
    data = {"username": username, "password": PASSWORD, "otp_token": token, "next": "/admin/"}
    return client.post(LOGIN, data, REMOTE_ADDR=ip)


def test_wrong_codes_after_the_right_password_lock_the_pair_not_the_editor(client, ed):
    device = TOTPDevice.objects.create(user=ed, name="Authenticator app", confirmed=True)
    wrong = "000000" if current_code(device) != "000000" else "111111"

    statuses = [with_code(client, "ed", wrong, ATTACKER).status_code for _ in range(5)]

    assert statuses == [200, 200, 200, 200, 429]
    assert with_code(client, "ed", current_code(device), ATTACKER).status_code == 429
    # django-otp's own throttle (per device, from everywhere) lasts a second after one wrong
    # code; once it has passed the editor logs in from elsewhere with the right code.
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=F("throttling_failure_timestamp") - timedelta(minutes=1)
    )
    assert logged_in(with_code(client, "ed", current_code(device), NEWSROOM))


# Client addresses behind proxies

PROXY = "10.0.0.2"


def via_proxy(client, username, password, client_ip, forged=None):
    """A login through our reverse proxy, which appends the peer it saw to X-Forwarded-For."""
    header = f"{forged}, {client_ip}" if forged else client_ip
    return attempt(client, username, password, ip=PROXY, HTTP_X_FORWARDED_FOR=header)


def test_a_forged_x_forwarded_for_from_an_untrusted_peer_is_ignored(client, ed, settings):
    settings.LIVEBLOG_TRUSTED_PROXIES = [PROXY]  # the attacker is not one of them
    for n in range(5):
        fail(client, "ed", ip=ATTACKER, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")

    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ATTACKER}
    forged_again = attempt(client, "ed", ip=ATTACKER, HTTP_X_FORWARDED_FOR="203.0.113.99")
    assert forged_again.status_code == 429
    assert logged_in(attempt(client, "ed", ip=NEWSROOM))


def test_genuine_x_forwarded_for_from_a_trusted_proxy_tells_clients_apart(client, ed, settings):
    # As settings parse LIVEBLOG_TRUSTED_PROXIES: a list of addresses or networks.
    settings.LIVEBLOG_TRUSTED_PROXIES = ["10.0.0.0/24"]
    for _ in range(5):
        via_proxy(client, "ed", "wrong", client_ip=ATTACKER)

    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ATTACKER}
    assert via_proxy(client, "ed", PASSWORD, client_ip=ATTACKER).status_code == 429
    # Everyone arrives from the proxy's address; the editor behind it is another client.
    assert logged_in(via_proxy(client, "ed", PASSWORD, client_ip=NEWSROOM))


def test_behind_a_trusted_proxy_a_forged_header_does_not_dodge_the_lock(client, ed, settings):
    settings.LIVEBLOG_TRUSTED_PROXIES = [PROXY]
    # The attacker sends its own X-Forwarded-For with a new address each time; our proxy appends
    # the real one, which is what counts.
    for n in range(10):
        via_proxy(client, f"guess{n}", "wrong", client_ip=ATTACKER, forged=f"203.0.113.{n}")

    assert via_proxy(client, "ed", PASSWORD, client_ip=ATTACKER, forged="203.0.113.200").status_code == 429
    assert logged_in(via_proxy(client, "ed", PASSWORD, client_ip=NEWSROOM))


def test_without_trusted_proxies_the_proxy_is_the_client(client, ed, settings):
    settings.LIVEBLOG_TRUSTED_PROXIES = []
    for _ in range(5):
        via_proxy(client, "ed", "wrong", client_ip=ATTACKER)

    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {PROXY}
