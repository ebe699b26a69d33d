"""One site's content and what readers get from it, in a process pointed at one database.

    python -m bench.backup.site populate [--posts N --images N]   # DATABASE_URL, DJANGO_MEDIA_ROOT
    python -m bench.backup.site snapshot OUT.json

`populate` writes as the app does: migrate, `load_demo` (a live and an archived blog, authors with
avatars, a chart), then through `posts.services` a photo post (an uploaded JPEG, re-encoded), an
edited, a deleted and a pinned post, and with --posts a big live blog (--images of them with a photo).
`snapshot` renders every public page with Django's test client (no server: the same views,
middleware and templates) and fetches every /media/ URL they name.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import random
import re
import sys
from pathlib import Path

# Per-response values, replaced before pages are compared: the CSP nonce is random per response
# (in the header and in the embed's <script nonce>) and so is the masked CSRF token Django puts
# into forms and cookies. Nothing else may differ between a page and its restored copy.
NORMALISE = [
    (re.compile(r"nonce-[A-Za-z0-9+/_=-]+"), "nonce-N"),
    (re.compile(r'nonce="[A-Za-z0-9+/_=-]+"'), 'nonce="N"'),
    (re.compile(r'name="csrfmiddlewaretoken" value="[A-Za-z0-9]+"'), 'name="csrfmiddlewaretoken" value="T"'),
]
EMPTY_FEED_UPDATED = re.compile(r"<updated>[^<]+</updated>")
HEADERS = [
    "Content-Type",
    "Content-Language",
    "Content-Length",
    "Content-Security-Policy",
    "Cache-Control",
    "ETag",
    "Last-Modified",
    "Vary",
]
MEDIA_URL = re.compile(r"/media/[A-Za-z0-9_./-]+")
OLDER_LINK = re.compile(r'href="/live/([\w-]+)/\?(?:order=oldest&amp;)?cursor=\d+"')
# Per blog: permalinks of its newest posts, and pages of "Load older posts" followed.
PERMALINKS, OLDER_PAGES = 30, 3


def setup() -> None:
    import django

    django.setup()


def photo(seed: int) -> io.BytesIO:
    """A JPEG as a phone would upload it (with EXIF), different per seed."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (1280, 853), ((seed * 37) % 256, (seed * 91) % 256, 140))
    ImageDraw.Draw(image).ellipse((200 + seed % 400, 150, 900, 700), fill=(250, 250, 240))
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "Drill Camera"  # Make: stripped by the re-encoding
    image.save(out, format="JPEG", quality=85, exif=exif)
    out.seek(0)
    out.name = f"photo-{seed}.jpg"
    return out


def populate(posts: int, images: int) -> None:
    from django.core.management import call_command

    from authors.models import Author
    from images.processing import process_photo
    from posts import services
    from posts.models import LiveBlog, Post

    call_command("migrate", interactive=False, verbosity=0)
    call_command("load_demo", verbosity=0)
    blog = LiveBlog.objects.get(state=LiveBlog.State.LIVE)
    author = Author.objects.exclude(avatar="").first()
    bylines = [author] if author else []
    services.publish_post(
        Post(
            live_blog=blog,
            headline="Wahlbeteiligung höher als 2021",
            body="<p>Erste Zahlen aus den <strong>Wahllokalen</strong>.</p>",
            image_alt="Schlange vor einem Wahllokal",
            image_caption="Vor dem Rathaus",
            image_credit="Drill",
        ),
        authors=bylines,
        image=process_photo(photo(1)),
    )
    edited = services.publish_post(Post(live_blog=blog, headline="Erste Prognose", body="<p>Entwurf</p>"))
    edited.body = "<p>Die erste Prognose, <em>korrigiert</em>.</p>"
    services.update_post(edited, expected_version=edited.version)
    deleted = services.publish_post(Post(live_blog=blog, headline="Falsche Meldung", body="<p>x</p>"))
    services.delete_post(deleted)
    pinned = services.publish_post(Post(live_blog=blog, headline="Alle Ergebnisse", body="<p>Hier.</p>"))
    services.set_pinned(pinned, True)
    if posts:
        populate_big(posts, images, bylines)


WORDS = [
    "Stimmen",
    "Wahlkreis",
    "Partei",
    "Ergebnis",
    "Prozent",
    "Kandidatin",
    "Kandidat",
    "Auszählung",
    "Briefwahl",
    "Landrat",
    "Hochrechnung",
    "gewinnt",
    "verliert",
    "knapp",
    "deutlich",
    "zweiten",
    "Platz",
    "Direktmandat",
    "Wahlbeteiligung",
    "gegenüber",
    "Vorwahl",
    "Punkte",
    "Stadt",
    "Landkreis",
    "Bürgermeisterin",
    "Koalition",
    "Mehrheit",
    "Opposition",
    "Sitzverteilung",
    "Landtag",
    "Wahlleiter",
    "vorläufig",
    "amtlich",
    "Zählung",
    "Bezirk",
    "Gemeinde",
    "Nachbarkreis",
    "erstmals",
    "seit",
]


def prose(seed: int) -> str:
    """About 600 characters of German-ish text, different per post: compresses like real posts."""
    rng = random.Random(seed)
    sentences = [" ".join(rng.choices(WORDS, k=rng.randint(8, 16))).capitalize() + "." for _ in range(6)]
    return f"<p>{' '.join(sentences[:3])}</p><p>{' '.join(sentences[3:])}</p>"


def populate_big(posts: int, images: int, bylines: list) -> None:
    """A big live blog: `posts` posts, `images` of them with a photo, as a results feed writes."""
    from images.processing import process_photo
    from posts import services
    from posts.models import LiveBlog, Post

    blog = LiveBlog.objects.create(
        slug="backup-drill-big", kicker="Drill", title="Ein großer Liveblog", state=LiveBlog.State.DRAFT
    )
    services.go_live(blog)
    plain = posts - images
    for start in range(0, plain, 1000):
        batch = [
            Post(live_blog=blog, headline=f"Wahlkreis {n}: ausgezählt", body=prose(n))
            for n in range(start, min(start + 1000, plain))
        ]
        services.publish_posts(blog, batch, authors=bylines)
    for n in range(images):
        post = Post(live_blog=blog, headline=f"Bild {n}", body="<p>Foto</p>", image_alt=f"Foto {n}")
        services.publish_post(post, authors=bylines, image=process_photo(photo(n + 2)))


def reader_paths() -> list[str]:
    from authors.models import Author
    from posts.models import LiveBlog

    paths = ["/", "/sitemap.xml", "/robots.txt"]
    for blog in LiveBlog.objects.public().order_by("pk"):
        base = blog.get_absolute_url()
        paths += [base, f"{base}embed/", f"{base}feed/", f"{base}feed/important/", f"{base}events/?after=0"]
        paths += [f"/api/live/{blog.slug}/", f"/api/live/{blog.slug}/events/?after=0"]
        if blog.is_archived:
            paths.append(f"{base}?order=oldest")
        paths += [post.get_absolute_url() for post in blog.posts.visible().for_display()[:PERMALINKS]]
        # A deleted post's permalink is a 404 and must stay one (the row is restored with it).
        paths += [post.get_absolute_url() for post in blog.posts.filter(deleted_at__isnull=False)[:3]]
    paths += [author.get_absolute_url() for author in Author.objects.order_by("pk")]
    return paths


def render(client, path: str) -> dict:
    response = client.get(path, headers={"accept-language": "en"})
    body = b"".join(response.streaming_content) if response.streaming else response.content
    page = {
        "status": response.status_code,
        "headers": {name: normalise(response[name]) for name in HEADERS if response.has_header(name)},
    }
    if path.startswith("/media/"):
        return {**page, "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    text = normalise(body.decode())
    if "/feed/" in path and "<entry>" not in text:
        # A feed without entries is "updated" at the time of the request: Django's feedgenerator
        # falls back to now() in <updated> and Last-Modified. Per response, so not compared.
        text = EMPTY_FEED_UPDATED.sub("<updated>(request time)</updated>", text)
        page["headers"]["Last-Modified"] = "(request time)"
    return {**page, "body": text}


def normalise(text: str) -> str:
    for pattern, replacement in NORMALISE:
        text = pattern.sub(replacement, text)
    return text


def older_pages(pages: dict, slug: str) -> int:
    return sum(1 for path in pages if path.startswith(f"/live/{slug}/?") and "cursor=" in path)


def snapshot(out: Path) -> None:
    from django.test import Client

    client = Client()
    pages: dict[str, dict] = {}
    queue = reader_paths()
    while queue:
        path = queue.pop(0)
        if path in pages:
            continue
        pages[path] = page = render(client, path)
        body = page.get("body", "")
        queue += MEDIA_URL.findall(body)
        # "Load older posts": the first few pages of each blog's stream, as a reader pages down.
        older = OLDER_LINK.search(body)
        if older and older_pages(pages, older.group(1)) < OLDER_PAGES:
            queue.append(older.group(0)[6:-1].replace("&amp;", "&"))
    out.write_text(json.dumps(pages, indent=1, sort_keys=True), encoding="utf-8")
    media = sum(1 for path in pages if path.startswith("/media/"))
    print(f"{len(pages) - media} pages and {media} media files rendered", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.backup.site")
    commands = parser.add_subparsers(dest="command", required=True)
    fill = commands.add_parser("populate")
    fill.add_argument("--posts", type=int, default=0, help="posts of an extra big live blog")
    fill.add_argument("--images", type=int, default=0, help="of them with a photo")
    shot = commands.add_parser("snapshot")
    shot.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    setup()
    if args.command == "populate":
        populate(args.posts, args.images)
    else:
        snapshot(args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
