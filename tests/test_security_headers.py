"""Security headers on every kind of response, secure cookies, and `check --deploy`.

Readers get pages, feeds, JSON, a sitemap, images and error pages; each must carry an enforced
Content-Security-Policy (no inline script, no plugins, no framing except the partners' embed),
nosniff and a Referrer-Policy, and, over HTTPS with the production settings, HSTS.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from PIL import Image

from images.processing import process_avatar
from posts import services, views
from posts.models import LiveBlog, Post
from tests.factories import AuthorFactory, LiveBlogFactory, UserFactory

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parent.parent
ONE_YEAR = 60 * 60 * 24 * 365


@pytest.fixture
def production(settings):
    """What settings.py sets when DJANGO_DEBUG is off (the test process may run with it on)."""
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = ONE_YEAR
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    return settings


def png_upload(size=(300, 300)) -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new("RGB", size, (40, 120, 200)).save(buffer, format="PNG")
    buffer.name = "portrait.png"
    buffer.seek(0)
    return buffer


@pytest.fixture
def site(media_root):
    """One of each thing readers can request; returns the URL of each response type."""
    author = AuthorFactory(slug="lena", name="Lena Hartwig")
    author.replace_avatar(process_avatar(png_upload()))
    live = LiveBlogFactory(slug="wahl", title="Wahlabend")
    post = services.publish_post(
        Post(live_blog=live, headline="Erste Prognose", body="<p>Union vorn.</p>"), authors=[author]
    )
    archived = LiveBlogFactory(slug="alt", title="Alter Abend")
    services.publish_post(Post(live_blog=archived, headline="Endergebnis"), authors=[author])
    services.archive_blog(archived)
    return {
        "reader page": (live.get_absolute_url(), 200),
        "archived page": (archived.get_absolute_url(), 200),
        "permalink": (post.get_absolute_url(), 200),
        "author page": (author.get_absolute_url(), 200),
        "home": ("/", 200),
        "catch-up events": (f"/live/{live.slug}/events/?after=0", 200),
        "admin login": ("/admin/login/", 200),
        "media file": (author.avatar_url(256), 200),
        "404 page": ("/live/gibt-es-nicht/", 404),
        "API 404": ("/api/live/gibt-es-nicht/", 404),
        "redirect to login": ("/admin/", 302),
        "feed": (f"/live/{live.slug}/feed/", 200),
        "important feed": (f"/live/{live.slug}/feed/important/", 200),
        "API blog": (f"/api/live/{live.slug}/", 200),
        "API events": (f"/api/live/{live.slug}/events/", 200),
        "API schema": ("/api/schema/", 200),
        "sitemap": ("/sitemap.xml", 200),
        "robots.txt": ("/robots.txt", 200),
        "embed": (f"/live/{live.slug}/embed/", 200),
    }


RESPONSE_TYPES = [
    "reader page",
    "archived page",
    "permalink",
    "author page",
    "home",
    "catch-up events",
    "admin login",
    "media file",
    "404 page",
    "API 404",
    "redirect to login",
    "feed",
    "important feed",
    "API blog",
    "API events",
    "API schema",
    "sitemap",
    "robots.txt",
    "embed",
]


def csp_directives(response) -> dict[str, list[str]]:
    policy = response.headers.get("Content-Security-Policy")
    assert policy, f"no enforced Content-Security-Policy on {response.request['PATH_INFO']}"
    directives = {}
    for directive in policy.split(";"):
        name, *values = directive.split()
        directives[name] = values
    return directives


def assert_security_headers(response, *, embed: bool = False) -> None:
    directives = csp_directives(response)
    script_src = directives.get("script-src", directives.get("default-src"))
    assert script_src is not None
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert directives["object-src"] == ["'none'"]
    if embed:
        # Framable by our own pages and the configured partners only (none configured here).
        assert directives["frame-ancestors"][0] == "'self'"
        assert "'none'" not in directives["frame-ancestors"]
    else:
        assert directives["frame-ancestors"] == ["'none'"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"


@pytest.mark.parametrize("kind", RESPONSE_TYPES)
def test_every_response_type_carries_csp_nosniff_and_referrer_policy(client, site, kind):
    url, status = site[kind]
    response = client.get(url)
    assert response.status_code == status, url
    assert_security_headers(response, embed=kind == "embed")
    assert "Strict-Transport-Security" not in response  # plain HTTP never gets HSTS


@pytest.mark.parametrize("kind", RESPONSE_TYPES)
def test_every_response_type_carries_hsts_over_https_in_production(client, site, production, kind):
    url, status = site[kind]
    response = client.get(url, secure=True)
    assert response.status_code == status, url
    assert_security_headers(response, embed=kind == "embed")
    assert response["Strict-Transport-Security"] == f"max-age={ONE_YEAR}; includeSubDomains; preload"


def test_behind_the_proxy_forwarded_https_gets_hsts(client, site, production):
    response = client.get(site["reader page"][0], headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 200
    assert response["Strict-Transport-Security"].startswith(f"max-age={ONE_YEAR}")


def test_plain_http_is_redirected_to_https_in_production(client, site, production):
    production.SECURE_SSL_REDIRECT = True
    response = client.get(site["reader page"][0])
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/live/wahl/"


def test_media_file_is_served_as_webp_with_nosniff(client, site):
    response = client.get(site["media file"][0])
    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content).startswith(b"RIFF")
    assert_security_headers(response)


@pytest.mark.parametrize("secure", [False, True], ids=["http", "https"])
def test_500_page_carries_the_security_headers(client, site, monkeypatch, settings, secure):
    if secure:
        settings.SECURE_HSTS_SECONDS = ONE_YEAR

    def broken(*args, **kwargs):
        raise RuntimeError("simulated failure while rendering the reader page")

    monkeypatch.setattr(views, "_reader_context", broken)
    client.raise_request_exception = False
    response = client.get(site["reader page"][0], secure=secure)
    assert response.status_code == 500
    assert "simulated failure" not in response.content.decode()  # no traceback for readers
    assert_security_headers(response)
    assert ("Strict-Transport-Security" in response) is secure


@pytest.mark.parametrize("name", ["reader page", "archived page", "permalink", "embed"])
def test_cacheable_reader_pages_carry_no_nonce_and_no_inline_script(client, site, name):
    # Caches hand one copy to every reader (an archived page for a day): a nonce in it would be
    # public and reused. Scripts come from 'self'; the only inline one is JSON-LD, a data block.
    response = client.get(site[name][0])
    assert not any(v.startswith("'nonce-") for v in csp_directives(response)["script-src"])
    assert "nonce" not in response.content.decode()
    tags = re.findall(r"<script\b[^>]*>", response.content.decode())
    inline = [tag for tag in tags if " src=" not in tag]
    assert all('type="application/ld+json"' in tag for tag in inline)
    if name != "embed":
        assert inline  # the structured data is there


def test_session_and_csrf_cookies_are_secure_httponly_and_samesite_after_admin_login(client, production):
    user = UserFactory(username="redaktion", is_staff=True)
    login_page = client.get("/admin/login/", secure=True)
    csrf_cookie = login_page.cookies[django_settings.CSRF_COOKIE_NAME]
    assert csrf_cookie["secure"] is True and csrf_cookie["samesite"] == "Lax"

    response = client.post(
        "/admin/login/",
        {"username": user.username, "password": "correct horse battery staple", "next": "/admin/"},
        secure=True,
    )
    assert response.status_code == 302, response.content.decode()[:500]
    session = response.cookies[django_settings.SESSION_COOKIE_NAME]
    assert session.value
    header = session.OutputString()
    assert "Secure" in header and "HttpOnly" in header and "SameSite=Lax" in header
    # Login rotates the CSRF token; the new cookie is as strict as the first.
    rotated = response.cookies[django_settings.CSRF_COOKIE_NAME].OutputString()
    assert "Secure" in rotated and "SameSite=Lax" in rotated
    assert User.objects.get(pk=user.pk).last_login is not None


@pytest.mark.django_db(databases=[])
def test_check_deploy_passes_with_the_production_environment():
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_ALLOWED_HOSTS": "liveblog.example.org",
        "DJANGO_SETTINGS_MODULE": "liveblog.settings",
    }
    # Whatever the test run sets for these would not be there in production.
    # (The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE for Playwright in this process.)
    for name in ("DJANGO_SECURE_SSL_REDIRECT", "DJANGO_HSTS_SECONDS", "DJANGO_ALLOW_ASYNC_UNSAFE"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_draft_blog_has_no_public_page_even_with_security_headers(client):
    # A 404 for a draft carries the same headers as any other page (and says nothing about it).
    LiveBlogFactory(slug="entwurf", state=LiveBlog.State.DRAFT, title="Geheimer Entwurf")
    response = client.get("/live/entwurf/")
    assert response.status_code == 404
    assert "Geheimer Entwurf" not in response.content.decode()
    assert_security_headers(response)
