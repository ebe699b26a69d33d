"""Login brute force: after 5 failures for a user or an address, further attempts are refused."""

import pytest
from axes.models import AccessAttempt

from tests.factories import EditorFactory

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"


def attempt(client, username, password, ip="203.0.113.7"):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=ip)


def test_five_failures_lock_the_account_even_with_the_right_password(client):
    editor = EditorFactory(username="ed", password="the-right-password")
    statuses = [attempt(client, editor.username, "wrong").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]  # the fifth failure locks
    locked = attempt(client, editor.username, "the-right-password")
    assert locked.status_code == 429
    assert "Too many failed login attempts" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    assert AccessAttempt.objects.filter(username="ed").exists()


def test_an_address_trying_many_users_is_locked_out(client):
    EditorFactory(username="victim", password="the-right-password")
    for n in range(5):
        attempt(client, f"guess{n}", "wrong", ip="198.51.100.9")
    assert attempt(client, "victim", "the-right-password", ip="198.51.100.9").status_code == 429
    # Another address is not affected.
    assert attempt(client, "victim", "the-right-password", ip="192.0.2.44").status_code == 302


def test_a_few_typos_do_not_lock_anyone_out(client):
    EditorFactory(username="ed", password="the-right-password")
    for _ in range(4):
        attempt(client, "ed", "wrong")
    assert attempt(client, "ed", "the-right-password").status_code == 302


PROXY = "10.0.0.2"


def via_proxy(client, username, password, client_ip, forwarded_for=None):
    """A login through our reverse proxy, which appends the address it saw to X-Forwarded-For."""
    header = f"{forwarded_for}, {client_ip}" if forwarded_for else client_ip
    return client.post(
        LOGIN,
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=header,
    )


def test_behind_a_trusted_proxy_an_attackers_failures_lock_the_attacker_not_the_desk(client, settings):
    settings.LIVEBLOG_TRUSTED_PROXIES = [PROXY]
    EditorFactory(username="ed", password="the-right-password")
    for n in range(5):
        via_proxy(client, f"guess{n}", "wrong", client_ip="198.51.100.9")
    assert via_proxy(client, "ed", "the-right-password", client_ip="198.51.100.9").status_code == 429
    # Every reader and editor arrives from the proxy's address: another client is not locked out.
    assert via_proxy(client, "ed", "the-right-password", client_ip="192.0.2.44").status_code == 302


def test_a_forged_x_forwarded_for_does_not_dodge_the_address_lock(client, settings):
    settings.LIVEBLOG_TRUSTED_PROXIES = [PROXY]
    EditorFactory(username="ed", password="the-right-password")
    # The attacker sends its own X-Forwarded-For with a new address each time; our proxy appends
    # the real one, which is what counts.
    for n in range(5):
        via_proxy(client, f"guess{n}", "wrong", client_ip="198.51.100.9", forwarded_for=f"203.0.113.{n}")
    assert via_proxy(client, "ed", "the-right-password", client_ip="198.51.100.9").status_code == 429


def test_without_trusted_proxies_x_forwarded_for_is_ignored(client, settings):
    settings.LIVEBLOG_TRUSTED_PROXIES = []
    EditorFactory(username="ed", password="the-right-password")
    for n in range(5):
        client.post(
            LOGIN,
            {"username": f"guess{n}", "password": "wrong"},
            REMOTE_ADDR="198.51.100.9",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        )
    assert attempt(client, "ed", "the-right-password", ip="198.51.100.9").status_code == 429
