"""The login lockout across real worker processes: two Daphne servers behind one (simulated) proxy.

Each server trusts 127.0.0.1 as its proxy (LIVEBLOG_TRUSTED_PROXIES, read from the environment
as in production) and the test sends X-Forwarded-For as that proxy would: the lock lands on the
client named there, and a lock taken on one worker holds on the other (axes' rows in PostgreSQL,
not a per-process cache). The limits come from the environment too (2 failures per pair, 3
usernames per address) to keep the run short.
"""

from __future__ import annotations

import http.cookiejar
import urllib.error
import urllib.parse
import urllib.request

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from tests.factories import EditorFactory
from tests.servers import HOST, DaphneServer, daphne_servers, server_env

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PASSWORD = "workers share the lock 42"
TIMEOUT = 20.0
ATTACKER = "198.51.100.9"
STUFFER = "203.0.113.5"
NEWSROOM = "192.0.2.44"


@pytest.fixture
def workers(tmp_path):
    env = server_env(
        LIVEBLOG_TRUSTED_PROXIES=HOST,
        LIVEBLOG_LOGIN_FAILURE_LIMIT="2",
        LIVEBLOG_LOGIN_ADDRESS_USER_LIMIT="3",
    )
    with daphne_servers(env, tmp_path) as started:
        yield started


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a login's 302 is the answer we look at


def log_in(server: DaphneServer, username: str, password: str, client: str) -> int:
    """A new visitor at `client` logs in through the proxy: the login page, then the form."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect)
    headers = {"Origin": server.origin, "Accept-Language": "en", "X-Forwarded-For": client}
    login = server.origin + "/admin/login/"
    with opener.open(urllib.request.Request(login, headers=headers), timeout=TIMEOUT) as page:
        assert page.status == 200
    token = next(cookie.value for cookie in jar if cookie.name == "csrftoken")
    form = {"username": username, "password": password, "next": "/admin/", "csrfmiddlewaretoken": token}
    request = urllib.request.Request(
        login, data=urllib.parse.urlencode(form).encode(), headers=headers, method="POST"
    )
    try:
        with opener.open(request, timeout=TIMEOUT) as response:
            return response.status
    except urllib.error.HTTPError as answer:  # 302 (not followed) and 429 land here
        return answer.code


def with_password(username: str):
    # The servers use Django's default hashers (the test settings use MD5, which they lack); few
    # iterations keep each check cheap on a shared machine.
    user = EditorFactory(username=username)
    hasher = PBKDF2PasswordHasher()
    user.password = hasher.encode(PASSWORD, hasher.salt(), iterations=1000)
    user.save(update_fields=["password"])
    return user


def test_a_pair_locked_on_one_worker_is_locked_on_the_other_and_only_for_that_client(workers):
    a, b = workers
    with_password("ed")

    assert [log_in(a, "ed", "wrong", ATTACKER) for _ in range(2)] == [200, 429]

    assert log_in(b, "ed", PASSWORD, ATTACKER) == 429
    # The editor arrives through the same proxy, from another client address.
    assert log_in(b, "ed", PASSWORD, NEWSROOM) == 302
    assert log_in(a, "ed", PASSWORD, NEWSROOM) == 302


def test_an_address_cycling_usernames_across_workers_is_throttled(workers):
    a, b = workers
    for name in ("ed", "u1", "u2", "u3"):
        with_password(name)

    statuses = [log_in(server, name, "wrong", STUFFER) for server, name in ((a, "u1"), (b, "u2"), (a, "u3"))]

    assert statuses == [200, 200, 429]
    assert log_in(b, "ed", PASSWORD, STUFFER) == 429
    assert log_in(b, "ed", PASSWORD, NEWSROOM) == 302
