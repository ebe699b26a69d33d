"""Every kind of public page is valid HTML, as the W3C Nu checker (vnu.jar) judges it.

The pages are rendered with the test client and checked together in one `java` run (each start of
the JVM costs about two seconds). Needs `npm ci` (node_modules/vnu-jar) and Java: skipped locally
without them, a failure in CI (LIVEBLOG_REQUIRE_SERVICES=1).

`build_site()` is shared with tests/browser/test_accessibility.py, which checks the same pages
with axe-core.
"""

import io
import json
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from images.processing import process_avatar, process_photo
from posts import services
from posts.models import Post
from posts.views import PAGE_SIZE as VIEWS_PAGE_SIZE
from tests.conftest import REQUIRE_SERVICES
from tests.factories import AuthorFactory, LiveBlogFactory

NODE_MODULES = Path(settings.BASE_DIR) / "node_modules"
VNU_JAR = NODE_MODULES / "vnu-jar" / "build" / "dist" / "vnu.jar"
VNU_TIMEOUT = 120  # seconds, for one JVM checking every page


def require_tool(present: bool, reason: str) -> None:
    """Skip without a checker locally; in CI (LIVEBLOG_REQUIRE_SERVICES=1) a missing one fails."""
    if present:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (LIVEBLOG_REQUIRE_SERVICES=1: the checkers are required here)")
    pytest.skip(reason)


def png_upload(size: tuple[int, int], color: tuple[int, int, int], name: str) -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


def build_site() -> dict[str, str]:
    """Blogs, posts and an author covering every public template; returns {page name: path}.

    A live blog (the successor) with a pinned, an important, an edited, an image and an authored
    post and a page of older posts, and an archived blog that points at it. Everything is
    published through posts.services.
    """
    author = AuthorFactory(
        name="Lena Hartwig", slug="lena", role="Korrespondentin", bio="Berichtet seit 2010 aus Berlin."
    )
    author.replace_avatar(process_avatar(png_upload((300, 300), (20, 90, 160), "lena.png")))

    live = LiveBlogFactory(
        slug="wahl",
        kicker="Bundestagswahl",
        title="Der Wahlabend im Liveblog",
        teaser="Prognosen, Hochrechnungen und Stimmen.",
        credit_line="© dpa/rtr",
    )
    archived = LiveBlogFactory(
        slug="vorwahl", title="Der Wahlkampf im Liveblog", successor=live, credit_line="© epd"
    )

    def publish(blog, headline, *, authors=(), image=None, **fields):
        post = Post(live_blog=blog, headline=headline, **fields)
        return services.publish_post(post, authors=authors, image=image)

    publish(archived, "Letzter Wahlkampftag", body="<p>Die Parteien werben ein letztes Mal.</p>")
    publish(archived, "Umfragen", body="<p>Knappes Rennen erwartet.</p>", is_important=True, authors=[author])
    services.archive_blog(archived)

    # More posts than one page holds: the reader page links to older posts (an htmx link).
    earlier = [
        publish(
            live,
            f"Vorab-Meldung {n}",
            body=f"<p>Vorbericht Nummer {n}.</p>",
            published_at=timezone.now() - timedelta(hours=3, minutes=n),
        )
        for n in range(VIEWS_PAGE_SIZE)
    ]
    first = publish(
        live,
        "Wahllokale geöffnet",
        body=(
            "<p>Seit 8 Uhr kann gewählt werden. <a href='https://example.org/wahl'>Alle Wahllokale</a>.</p>"
            "<ul><li>61 Millionen Wahlberechtigte</li><li>29 Parteien</li></ul>"
            "<blockquote><p>Gehen Sie wählen.</p></blockquote>"
        ),
        authors=[author],
        source="dpa",
    )
    publish(
        live,
        "Das Wichtigste in Kürze",
        body="<p>Die Wahllokale schließen um 18 Uhr.</p>",
        is_pinned=True,
        is_important=True,
    )
    publish(live, "Erste Prognose", body="<p>Die <strong>Union</strong> liegt vorn.</p>", is_important=True)
    photo = process_photo(png_upload((1200, 800), (200, 40, 40), "wahlparty.png"))
    with_image = publish(
        live,
        "Stimmung auf der Wahlparty",
        body="<p>Jubel im Saal.</p>",
        image=photo,
        image_alt="Anhängerinnen jubeln vor einer Leinwand mit der Prognose",
        image_caption="Die Wahlparty in Berlin",
        image_credit="Anna Berg",
        authors=[author],
    )
    first.body += "<p><em>Ergänzt:</em> Die Wahlbeteiligung liegt über der von 2021.</p>"
    services.update_post(first)

    return {
        "home": "/",
        "reader": live.get_absolute_url(),
        "reader-older-posts": f"{live.get_absolute_url()}?cursor={earlier[-3].pk}",
        "archived": archived.get_absolute_url(),
        "archived-oldest-first": f"{archived.get_absolute_url()}?order=oldest",
        "permalink": with_image.get_absolute_url(),
        "author": author.get_absolute_url(),
        "embed": f"/live/{live.slug}/embed/",
        "embed-archived": f"/live/{archived.slug}/embed/",
    }


def vnu_errors(pages: dict[str, str], directory: Path) -> dict[str, list[str]]:
    """Check every page in one vnu.jar run; {page name: ["line N: message", …]} for those with errors."""
    paths = []
    for name, html in pages.items():
        path = directory / f"{name}.html"
        path.write_text(html, encoding="utf-8")
        paths.append(str(path))
    result = subprocess.run(
        ["java", "-jar", str(VNU_JAR), "--errors-only", "--format", "json", *paths],
        capture_output=True,
        text=True,
        timeout=VNU_TIMEOUT,
        check=False,
    )
    # vnu writes its JSON report to stderr; exit status 1 means "errors found".
    try:
        messages = json.loads(result.stderr)["messages"]
    except (json.JSONDecodeError, KeyError):
        pytest.fail(
            f"vnu.jar gave no JSON report (exit {result.returncode}):\n{result.stderr}{result.stdout}"
        )
    errors: dict[str, list[str]] = {}
    for message in messages:
        # "url" is the file's URL (file:/tmp/…/<page name>.html).
        page = Path(message.get("url", "?")).stem
        where = f"line {message.get('lastLine', '?')}"
        extract = message.get("extract", "").strip()
        errors.setdefault(page, []).append(
            f"{where}: [{message.get('type')}] {message.get('message')}"
            + (f"\n      {extract}" if extract else "")
        )
    return errors


@pytest.mark.django_db
def test_public_pages_are_valid_html(client, tmp_path):
    require_tool(VNU_JAR.is_file(), f"needs {VNU_JAR.relative_to(settings.BASE_DIR)} (npm ci)")
    require_tool(shutil.which("java") is not None, "needs Java (apt-get install -y default-jre-headless)")

    pages = {}
    for name, url in build_site().items():
        response = client.get(url)
        assert response.status_code == 200, f"{name}: GET {url} answered {response.status_code}"
        pages[name] = response.content.decode()

    errors = vnu_errors(pages, tmp_path)
    report = "\n".join(f"{page} ({len(lines)}):\n  " + "\n  ".join(lines) for page, lines in errors.items())
    assert not errors, f"The Nu HTML checker found errors:\n{report}"
