"""Authors in the admin: avatars are processed on upload, bad files are form errors."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from authors.models import Author
from tests.factories import AuthorFactory, UserFactory

pytestmark = pytest.mark.django_db


def jpeg_bytes(size=(600, 400)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (30, 90, 160)).save(buffer, format="JPEG")
    return buffer.getvalue()


def author_form(author, **extra):
    return {"name": author.name, "slug": author.slug, "role": author.role, "bio": "", "user": "", **extra}


def test_avatar_upload_in_the_admin_stores_square_renditions(editor_client, media_root):
    author = AuthorFactory()
    upload = SimpleUploadedFile("portrait.jpg", jpeg_bytes(), content_type="image/jpeg")
    response = editor_client.post(
        reverse("admin:authors_author_change", args=[author.pk]), author_form(author, avatar_upload=upload)
    )
    assert response.status_code == 302
    author.refresh_from_db()
    for size in (64, 128, 256):
        with Image.open(media_root / author.avatar_url(size).removeprefix("/media/")) as image:
            assert image.size == (size, size) and image.format == "WEBP"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("evil.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "SVG"),
        ("notes.jpg", b"just some text, not an image at all", "not an image"),
        ("huge.jpg", b"\xff\xd8" + b"0" * (10 * 1024 * 1024), "at most 10 MB"),
    ],
)
def test_bad_avatar_is_a_form_error_and_changes_nothing(editor_client, media_root, name, content, message):
    author = AuthorFactory(role="Reporterin")
    upload = SimpleUploadedFile(name, content, content_type="image/jpeg")
    response = editor_client.post(
        reverse("admin:authors_author_change", args=[author.pk]),
        author_form(author, role="Geänderte Rolle", avatar_upload=upload),
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Author.objects.get(pk=author.pk).role == "Reporterin"
    assert not media_root.exists() or not any(media_root.rglob("*.webp"))


def test_editors_see_an_authors_login_but_cannot_relink_it(editor_client, editor):
    other = UserFactory(username="chefin")
    author = AuthorFactory(user=editor)
    url = reverse("admin:authors_author_change", args=[author.pk])
    page = editor_client.get(url).content.decode()
    assert "admin-autocomplete" not in page  # no picker that would answer 403
    assert editor.username in page
    response = editor_client.post(url, author_form(author, role="Reporterin", user=other.pk))
    assert response.status_code == 302
    author.refresh_from_db()
    assert author.role == "Reporterin" and author.user == editor


def test_administrators_link_an_author_to_a_login(admin_client):
    login = UserFactory(username="neu")
    author = AuthorFactory()
    url = reverse("admin:authors_author_change", args=[author.pk])
    assert "admin-autocomplete" in admin_client.get(url).content.decode()
    assert admin_client.post(url, author_form(author, user=login.pk)).status_code == 302
    author.refresh_from_db()
    assert author.user == login
