"""Optional two-step login (TOTP) for editors: turning it on and off, and logging in with it."""

import time

import pytest
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import EditorFactory, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
PASSWORD = "the-right-password"
PAGE = "/admin/two-factor/"


def code(device, steps_ahead=0) -> str:
    """The app's code now (or in `steps_ahead` 30-second steps: the device accepts one step of drift)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def log_in(client, username, password=PASSWORD, otp_token=""):
    data = {"username": username, "password": password, "otp_token": otp_token, "next": "/admin/"}
    return client.post(LOGIN, data, REMOTE_ADDR="203.0.113.9")


@pytest.fixture
def editor():
    return EditorFactory(username="ed", password=PASSWORD)


@pytest.fixture
def enrolled(editor):
    return TOTPDevice.objects.create(user=editor, name="Authenticator app", confirmed=True)


def test_an_editor_without_two_step_login_logs_in_with_the_password(client, editor):
    response = log_in(client, "ed")

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(editor.pk)


def test_login_page_offers_the_code_field(client):
    page = client.get(LOGIN).content.decode()

    assert 'name="otp_token"' in page
    assert 'autocomplete="one-time-code"' in page


def test_turning_it_on_shows_a_qr_code_and_key_then_needs_a_valid_code(client, editor):
    client.force_login(editor)
    page = client.get(PAGE)
    device = TOTPDevice.objects.get(user=editor)

    assert page.status_code == 200
    assert 'id="two-factor-qr" src="data:image/svg+xml' in page.content.decode()
    assert not device.confirmed
    assert client.get(PAGE).context["secret"] == page.context["secret"]  # the same key until confirmed

    wrong = client.post(PAGE, {"token": "000000" if code(device) != "000000" else "111111"})
    assert wrong.status_code == 422
    assert "not valid" in wrong.content.decode()
    device.refresh_from_db()
    assert not device.confirmed

    device.throttle_reset()
    right = client.post(PAGE, {"token": code(device)}, follow=True)
    device.refresh_from_db()
    assert device.confirmed
    assert "Two-step login is on" in right.content.decode()
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id


def test_with_two_step_login_the_password_alone_is_not_enough(client, enrolled):
    response = log_in(client, "ed")

    assert response.status_code == 200
    assert "Enter the 6-digit code" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_wrong_code_is_refused(client, enrolled):
    wrong = "000000" if code(enrolled) != "000000" else "111111"
    response = log_in(client, "ed", otp_token=wrong)

    assert "not valid" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_right_code_logs_in_and_marks_the_session_verified(client, editor, enrolled):
    response = log_in(client, "ed", otp_token=code(enrolled))

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(editor.pk)
    assert client.session[DEVICE_ID_SESSION_KEY] == enrolled.persistent_id
    assert client.get("/admin/").status_code == 200


def test_a_code_cannot_be_used_twice(client, enrolled):
    token = code(enrolled)
    assert log_in(client, "ed", otp_token=token).status_code == 302
    client.logout()

    replay = log_in(client, "ed", otp_token=token)

    assert replay.status_code == 200
    assert "_auth_user_id" not in client.session


def test_guessing_codes_is_throttled(client, enrolled):
    wrong = "000000" if code(enrolled) != "000000" else "111111"
    for _ in range(3):
        log_in(client, "ed", otp_token=wrong)

    response = log_in(client, "ed", otp_token=code(enrolled))

    assert "Too many wrong codes" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_wrong_password_with_a_right_code_is_still_refused(client, enrolled):
    response = log_in(client, "ed", password="nope", otp_token=code(enrolled))

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_turning_it_off_needs_a_current_code(client, editor, enrolled):
    client.force_login(editor)
    assert "Two-step login is <strong>on</strong>" in client.get(PAGE).content.decode()

    refused = client.post(PAGE, {"token": ""})
    assert refused.status_code == 422
    assert TOTPDevice.objects.filter(user=editor, confirmed=True).exists()

    client.post(PAGE, {"token": code(enrolled, steps_ahead=1)})
    assert not TOTPDevice.objects.filter(user=editor).exists()
    assert log_in(client, "ed").status_code == 302  # the password alone again


def test_the_page_is_for_logged_in_staff_only(client):
    assert client.get(PAGE)["Location"].startswith(reverse("admin:login"))
    client.force_login(UserFactory(username="reader"))
    assert client.get(PAGE)["Location"].startswith(reverse("admin:login"))
    assert not TOTPDevice.objects.exists()


def test_the_desk_links_to_it(client, editor):
    client.force_login(editor)

    assert f'href="{PAGE}"' in client.get("/admin/").content.decode()


def test_the_page_speaks_german_to_german_editors(client, editor):
    client.force_login(editor)

    page = client.get(PAGE, headers={"accept-language": "de"}).content.decode()

    assert "Anmeldung in zwei Schritten" in page
    assert "Scannen Sie damit diesen Code" in page
