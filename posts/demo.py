"""Demo content for `manage.py load_demo`: two German live blogs, three authors, an editor login.

All text is invented for this project (fictional state, parties and people). Everything readers see
is written through `posts.services`, exactly as the editors' desk would: blogs start as drafts,
go live, get their posts published in order, and the finished one is archived at the end.

Loading is idempotent: a blog whose slug exists is left as it is, and the user and authors are
reused when present. Running it twice changes nothing.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw, ImageFont

from authors.models import Author
from images.processing import ProcessedImage, process_avatar, process_photo

from . import services
from .models import LiveBlog, Post

EDITOR_USERNAME = "redaktion"
EDITOR_PASSWORD = "liveblog-demo"  # noqa: S105 - a published demo login, printed by `make run`
EDITORS_GROUP = "Editors"
TIME_ZONE = "Europe/Berlin"


# ---------------------------------------------------------------------------------------------
# Content
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoAuthor:
    slug: str
    name: str
    role: str
    bio: str
    color: tuple[int, int, int]
    is_editor: bool = False  # linked to the `redaktion` login

    @property
    def initials(self) -> str:
        return "".join(part[0] for part in self.name.split()[:2]).upper()


@dataclass(frozen=True)
class DemoPost:
    minutes: int  # minutes after the blog's anchor time
    headline: str
    body: str
    authors: tuple[str, ...]
    is_important: bool = False
    is_pinned: bool = False
    source: str = ""
    image: bool = False  # the generated chart, with the texts below
    image_alt: str = ""
    image_caption: str = ""
    image_credit: str = ""


@dataclass(frozen=True)
class DemoBlog:
    slug: str
    kicker: str
    title: str
    teaser: str
    credit_line: str
    topic_title: str
    topic_url: str
    anchor_hour: int  # local hour the minutes of its posts count from
    days_before: int  # how many days before the election evening it happened
    archive: bool
    posts: tuple[DemoPost, ...] = field(default_factory=tuple)


AUTHORS = (
    DemoAuthor(
        slug="lena-hartwig",
        name="Lena Hartwig",
        role="Landeskorrespondentin in Lindenhafen",
        bio=(
            "Lena Hartwig berichtet seit zehn Jahren über die Landespolitik in Nordhain – aus dem "
            "Landtag, von Parteitagen und aus den Wahlkreisen. Davor war sie Lokalredakteurin an "
            "der Küste."
        ),
        color=(16, 110, 120),
    ),
    DemoAuthor(
        slug="daniel-okafor",
        name="Daniel Okafor",
        role="Redakteur im Nachrichtenressort",
        bio=(
            "Daniel Okafor koordiniert am Newsdesk die aktuelle Berichterstattung und betreut "
            "unsere Liveblogs. Er hat Politikwissenschaft studiert und eine Journalistenschule "
            "besucht."
        ),
        color=(170, 60, 45),
        is_editor=True,
    ),
    DemoAuthor(
        slug="sophie-brandl",
        name="Sophie Brandl",
        role="Datenredakteurin",
        bio=(
            "Sophie Brandl macht aus Zahlen Geschichten: Hochrechnungen, Wetterdaten, Statistiken. "
            "Sie entwickelt die Grafiken und Datenanalysen der Redaktion."
        ),
        color=(90, 60, 150),
    ),
)

HARTWIG, OKAFOR, BRANDL = (a.slug for a in AUTHORS)

ELECTION = DemoBlog(
    slug="wahlabend-demo",
    kicker="Landtagswahl in Nordhain",
    title="Bürgerunion bleibt stärkste Kraft – Liberale zittern um den Einzug",
    teaser=(
        "Die Wahllokale sind geschlossen, die Zahlen kommen: Ministerpräsidentin Henrike Vossberg "
        "kann wohl weiterregieren, braucht aber einen neuen Partner. Alle Entwicklungen des "
        "Wahlabends im Liveblog."
    ),
    credit_line="© Liveblog/dpa/rtr",
    topic_title="Landtagswahl in Nordhain",
    topic_url="https://example.org/themen/landtagswahl",
    anchor_hour=18,
    days_before=0,
    archive=False,
    posts=(
        DemoPost(
            minutes=-30,
            headline="Willkommen zu unserem Liveblog zur Landtagswahl",
            authors=(HARTWIG, OKAFOR),
            body=(
                "<p>Guten Abend aus Lindenhafen! In einer halben Stunde schließen in Nordhain die "
                "Wahllokale. Rund 4,1 Millionen Menschen sind aufgerufen, einen neuen Landtag zu "
                "wählen.</p>"
                "<p>Wir berichten den ganzen Abend live: mit Prognose und Hochrechnungen, Stimmen "
                "von den Wahlpartys und Einordnungen unserer Landeskorrespondentin.</p>"
                "<p>Parteien, Kandidierende und Umfragen im Überblick finden Sie auf unserer "
                '<a href="https://example.org/themen/landtagswahl">Themenseite zur '
                "Landtagswahl</a>.</p>"
            ),
        ),
        DemoPost(
            minutes=-15,
            headline="Wahlbeteiligung höher als vor fünf Jahren",
            authors=(OKAFOR,),
            source="dpa",
            body=(
                "<p>Bis 16 Uhr haben nach Angaben der Landeswahlleitung 52,3 Prozent der "
                "Wahlberechtigten ihre Stimme abgegeben – Briefwählerinnen und Briefwähler nicht "
                "mitgerechnet. Vor fünf Jahren waren es zum selben Zeitpunkt 47,8 Prozent.</p>"
                "<p>In den Städten bildeten sich am Nachmittag vor einigen Wahllokalen Schlangen. "
                "Ein Sprecher der Landeswahlleitung sagte, es habe <em>keine nennenswerten "
                "Störungen</em> gegeben.</p>"
            ),
        ),
        DemoPost(
            minutes=0,
            headline="Erste Prognose: Bürgerunion vorn, Sozialbund legt deutlich zu",
            authors=(BRANDL, HARTWIG),
            is_important=True,
            body=(
                "<p>Die erste Prognose des Instituts Wahlblick sieht die Bürgerunion von "
                "Ministerpräsidentin Henrike Vossberg klar vorn:</p>"
                "<ul>"
                "<li><strong>Bürgerunion:</strong> 33,5 Prozent (–2,1)</li>"
                "<li><strong>Sozialbund:</strong> 24,0 Prozent (+3,4)</li>"
                "<li><strong>Grüne Liste:</strong> 15,5 Prozent (–1,0)</li>"
                "<li><strong>Partei für Fortschritt:</strong> 9,5 Prozent (+1,5)</li>"
                "<li><strong>Liberale Partei:</strong> 5,0 Prozent (–1,8)</li>"
                "<li><strong>Sonstige:</strong> 12,5 Prozent</li>"
                "</ul>"
                "<p>Für die bisherige Koalition aus Bürgerunion und Liberaler Partei reicht es "
                "damit nicht mehr. Ob die Liberalen überhaupt im Landtag bleiben, ist offen.</p>"
            ),
        ),
        DemoPost(
            minutes=12,
            headline="Jubel beim Sozialbund, lange Gesichter bei den Liberalen",
            authors=(HARTWIG,),
            body=(
                "<p>Auf der Wahlparty des Sozialbunds im Lindenhafener Hafenspeicher brandete bei "
                "der Prognose lauter Jubel auf. Spitzenkandidat Matthias Kellermann ließ sich von "
                "seinen Anhängerinnen und Anhängern minutenlang feiern.</p>"
                "<p>Ganz anders die Stimmung bei der Liberalen Partei: Im Saal eines Hotels in der "
                "Innenstadt wurde es nach den ersten Zahlen still. Ein Landtagsabgeordneter sagte "
                "unserer Korrespondentin:</p>"
                "<blockquote><p>„Das wird eine lange Nacht. Wir haben bis zuletzt gekämpft, "
                "jetzt können wir nur abwarten.“</p></blockquote>"
            ),
        ),
        DemoPost(
            minutes=40,
            headline="Erste Hochrechnung bestätigt den Trend",
            authors=(BRANDL,),
            image=True,
            image_alt=(
                "Balkengrafik mit fünf farbigen Balken unterschiedlicher Höhe vor einem blauen "
                "Farbverlauf, darüber der Schriftzug „Demo“"
            ),
            image_caption="Die erste Hochrechnung als Grafik (Beispielbild der Demo)",
            image_credit="Liveblog-Grafik",
            body=(
                "<p>Die erste Hochrechnung auf Grundlage ausgezählter Stimmbezirke bestätigt die "
                "Prognose im Wesentlichen: Die Bürgerunion kommt auf 33,1 Prozent, der Sozialbund "
                "auf 24,4 Prozent.</p>"
                "<p>Knapp bleibt es für die Liberale Partei, die derzeit bei <strong>4,9 "
                "Prozent</strong> liegt. Die Grüne Liste kommt auf 15,2 Prozent, die Partei für "
                "Fortschritt auf 9,3 Prozent.</p>"
            ),
        ),
        DemoPost(
            minutes=65,
            headline="Vossberg: „Ein klarer Auftrag, weiter Verantwortung zu übernehmen“",
            authors=(HARTWIG,),
            is_important=True,
            body=(
                "<p>Ministerpräsidentin Henrike Vossberg hat sich vor ihren Anhängern als "
                "Wahlsiegerin präsentiert. Die Bürgerunion sei „mit deutlichem Abstand stärkste "
                "Kraft“, sagte sie unter Applaus.</p>"
                "<blockquote><p>„Die Menschen in Nordhain haben uns einen klaren Auftrag gegeben, "
                "weiter Verantwortung für dieses Land zu übernehmen. Wir werden mit allen "
                "demokratischen Parteien reden.“</p></blockquote>"
                "<p>Ob sie ein Bündnis mit dem Sozialbund anstrebe, ließ Vossberg offen. Für "
                "Festlegungen sei es <em>„heute Abend noch zu früh“</em>.</p>"
            ),
        ),
        DemoPost(
            minutes=90,
            headline="Liberale Partei bangt um den Wiedereinzug",
            authors=(OKAFOR,),
            source="rtr",
            body=(
                "<p>Für die Liberale Partei wird der Abend zur Zitterpartie: Nach den aktuellen "
                "Zahlen liegt sie genau an der Fünf-Prozent-Hürde. Spitzenkandidat Jonas Weidlich "
                "sagte, er sei „vorsichtig optimistisch“.</p>"
                "<p>Scheitert die Partei, säßen im neuen Landtag nur noch vier Fraktionen. Das "
                "würde die Mehrheitsverhältnisse verschieben, denn die Stimmen für die Liberalen "
                "fielen bei der Sitzverteilung dann weg.</p>"
            ),
        ),
        DemoPost(
            minutes=125,
            headline="Kellermann: „Der Wechsel ist zum Greifen nah“",
            authors=(HARTWIG,),
            body=(
                "<p>Sozialbund-Spitzenkandidat Matthias Kellermann will sich mit Platz zwei nicht "
                "abfinden. Er sprach vom „besten Ergebnis seit fünfzehn Jahren“ und kündigte "
                "Gespräche mit der Grünen Liste und der Liberalen Partei an.</p>"
                "<p>Ein solches Dreierbündnis hätte nach den bisherigen Zahlen allerdings nur dann "
                "eine Mehrheit, wenn die Liberalen den Sprung in den Landtag schaffen – und selbst "
                "dann wäre sie denkbar knapp.</p>"
            ),
        ),
        DemoPost(
            minutes=160,
            headline="Welche Koalitionen jetzt möglich sind",
            authors=(OKAFOR, HARTWIG),
            body=(
                "<p>Die bisherige Koalition aus Bürgerunion und Liberaler Partei hat nach allen "
                "Hochrechnungen keine Mehrheit mehr. Rechnerisch kommen diese Bündnisse "
                "infrage:</p>"
                "<ol>"
                "<li><strong>Bürgerunion und Sozialbund:</strong> die stabilste Mehrheit – in "
                "beiden Parteien aber unbeliebt, nachdem man sich im Wahlkampf hart angegriffen "
                "hat.</li>"
                "<li><strong>Bürgerunion und Grüne Liste:</strong> hätte nach den aktuellen Zahlen "
                "ebenfalls eine Mehrheit. Vossberg hat ein solches Bündnis nie ausgeschlossen.</li>"
                "<li><strong>Sozialbund, Grüne Liste und Liberale Partei:</strong> Kellermanns "
                "Wunschbündnis. Es ist nur möglich, wenn die Liberalen in den Landtag "
                "einziehen.</li>"
                "</ol>"
                "<p>Was die Parteien versprochen haben, lesen Sie in unserem "
                '<a href="https://example.org/themen/landtagswahl/wahlprogramme">Vergleich der '
                "Wahlprogramme</a>.</p>"
            ),
        ),
        DemoPost(
            minutes=195,
            headline="Neue Hochrechnung: Liberale knapp über fünf Prozent",
            authors=(BRANDL,),
            is_important=True,
            source="dpa",
            body=(
                "<p>Die Liberale Partei darf auf den Wiedereinzug hoffen: In der jüngsten "
                "Hochrechnung kommt sie auf <strong>5,1 Prozent</strong>. Die übrigen Zahlen im "
                "Überblick:</p>"
                "<ul>"
                "<li><strong>Bürgerunion:</strong> 32,8 Prozent</li>"
                "<li><strong>Sozialbund:</strong> 24,6 Prozent</li>"
                "<li><strong>Grüne Liste:</strong> 14,1 Prozent</li>"
                "<li><strong>Partei für Fortschritt:</strong> 10,2 Prozent</li>"
                "</ul>"
                "<p>Das vorläufige amtliche Endergebnis will die Landeswahlleitung nach "
                "Mitternacht bekannt geben.</p>"
            ),
        ),
        DemoPost(
            minutes=210,
            headline="Das Wichtigste in Kürze",
            authors=(OKAFOR,),
            is_pinned=True,
            body=(
                "<ul>"
                "<li>Die <strong>Bürgerunion</strong> von Ministerpräsidentin Henrike Vossberg "
                "bleibt laut Hochrechnung mit 32,8 Prozent stärkste Kraft, verliert aber.</li>"
                "<li>Der <strong>Sozialbund</strong> mit Spitzenkandidat Matthias Kellermann legt "
                "deutlich zu und kommt auf 24,6 Prozent.</li>"
                "<li>Die bisherige Koalition aus Bürgerunion und Liberaler Partei hat "
                "<strong>keine Mehrheit</strong> mehr.</li>"
                "<li>Die <strong>Liberale Partei</strong> liegt mit 5,1 Prozent knapp über der "
                "Fünf-Prozent-Hürde; das vorläufige Endergebnis wird in der Nacht erwartet.</li>"
                "<li>Die Wahlbeteiligung ist deutlich gestiegen.</li>"
                "</ul>"
            ),
        ),
    ),
)

STORM = DemoBlog(
    slug="sturmtief-demo",
    kicker="Unwetter",
    title="Sturmtief „Irmgard“: Orkanböen legen den Bahnverkehr im Norden lahm",
    teaser=(
        "Umgestürzte Bäume, gesperrte Strecken, Hunderte Einsätze: Sturmtief „Irmgard“ ist über "
        "den Norden gezogen. Der Liveblog zum Nachlesen."
    ),
    credit_line="© Liveblog/dpa/rtr",
    topic_title="Unwetter und Extremwetter",
    topic_url="https://example.org/themen/unwetter",
    anchor_hour=15,
    days_before=3,
    archive=True,
    posts=(
        DemoPost(
            minutes=0,
            headline="Wetterdienst warnt vor Orkanböen an der Küste",
            authors=(BRANDL,),
            source="dpa",
            body=(
                "<p>Der Wetterdienst hat für die Küstenregionen eine Unwetterwarnung der "
                "zweithöchsten Stufe ausgegeben. Ab dem frühen Abend sind Orkanböen mit bis zu "
                "120 Kilometern pro Stunde möglich, im Binnenland schwere Sturmböen.</p>"
                "<p>Die Behörden raten:</p>"
                "<ul>"
                "<li>Aufenthalte im Freien, besonders in Wäldern und Parks, vermeiden,</li>"
                "<li>lose Gegenstände auf Balkonen und Terrassen sichern,</li>"
                "<li>Fahrten verschieben, wenn sie nicht dringend nötig sind.</li>"
                "</ul>"
            ),
        ),
        DemoPost(
            minutes=150,
            headline="Bahn stellt den Fernverkehr im Norden ein",
            authors=(OKAFOR,),
            is_important=True,
            source="dpa",
            body=(
                "<p>Wegen des Sturms hat die Bahn den Fernverkehr im Norden bis auf Weiteres "
                "eingestellt. Auch im Regionalverkehr fallen zahlreiche Verbindungen aus. "
                "Fahrgäste sollen sich vor der Abfahrt über ihre Verbindung informieren.</p>"
                "<p>Tickets für den heutigen Tag bleiben nach Angaben des Unternehmens gültig und "
                "können in den nächsten Tagen flexibel genutzt werden.</p>"
            ),
        ),
        DemoPost(
            minutes=300,
            headline="Feuerwehren im Dauereinsatz",
            authors=(OKAFOR, BRANDL),
            body=(
                "<p>Umgestürzte Bäume, abgedeckte Dächer, vollgelaufene Keller: Die Feuerwehren "
                "in den Küstenstädten melden Hunderte Einsätze. Ernsthaft verletzt wurde nach "
                "bisherigen Erkenntnissen niemand.</p>"
                "<blockquote><p>„Wir sind seit dem Nachmittag ununterbrochen unterwegs. Bitte "
                "bleiben Sie zu Hause – jede Fahrt, die nicht sein muss, bindet Kräfte.“"
                "</p></blockquote>"
                "<p>So fasste ein Sprecher der Feuerwehr die Lage am Abend zusammen.</p>"
            ),
        ),
        DemoPost(
            minutes=450,
            headline="Sturm schwächt sich ab – Aufräumarbeiten beginnen",
            authors=(BRANDL,),
            source="rtr",
            body=(
                "<p>Das Sturmtief zieht langsam nach Osten ab. Der Wetterdienst hat die "
                "Unwetterwarnungen für die meisten Regionen aufgehoben; vereinzelt sind in der "
                "Nacht noch Sturmböen möglich.</p>"
                "<p>Die Bahn will den Fernverkehr am Vormittag schrittweise wieder aufnehmen. "
                "Zuvor müssen die Strecken kontrolliert und von umgestürzten Bäumen befreit "
                "werden.</p>"
            ),
        ),
        DemoPost(
            minutes=495,
            headline="Wir beenden unseren Liveblog",
            authors=(OKAFOR,),
            body=(
                "<p>Sturmtief „Irmgard“ hat sich abgeschwächt, die meisten Warnungen sind "
                "aufgehoben. Wir beenden damit unseren Liveblog für heute – danke, dass Sie dabei "
                "waren!</p>"
                "<p>Wie es mit dem Bahnverkehr und den Aufräumarbeiten weitergeht, lesen Sie auf "
                'unserer <a href="https://example.org/themen/unwetter">Themenseite Unwetter und '
                "Extremwetter</a>.</p>"
            ),
        ),
    ),
)

BLOGS = (ELECTION, STORM)


# ---------------------------------------------------------------------------------------------
# Generated images
# ---------------------------------------------------------------------------------------------


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, ImportError):  # Pillow without FreeType: small bitmap font
        return ImageFont.load_default()


def _png(image: Image.Image) -> io.BytesIO:
    out = io.BytesIO()
    image.save(out, format="PNG")
    out.seek(0)
    return out


def avatar_png(initials: str, color: tuple[int, int, int]) -> io.BytesIO:
    """A 512×512 PNG: a colored disc with white initials on a light background."""
    image = Image.new("RGB", (512, 512), (238, 238, 232))
    draw = ImageDraw.Draw(image)
    draw.ellipse((16, 16, 496, 496), fill=color)
    draw.text((256, 256), initials, fill="white", font=_font(200), anchor="mm")
    return _png(image)


def chart_png(width: int = 1200, height: int = 800) -> io.BytesIO:
    """An abstract bar chart on a blue gradient, labelled "Demo"."""
    top = Image.new("RGB", (width, height), (14, 30, 70))
    bottom = Image.new("RGB", (width, height), (40, 120, 150))
    mask = Image.linear_gradient("L").resize((width, height))
    image = Image.composite(bottom, top, mask)
    draw = ImageDraw.Draw(image)
    bars = [
        (33.1, (30, 30, 30)),
        (24.4, (200, 40, 50)),
        (15.2, (60, 160, 70)),
        (9.3, (90, 130, 220)),
        (4.9, (240, 200, 40)),
    ]
    base, left, bar_w, gap = height - 100, 150, 140, 50
    for index, (value, color) in enumerate(bars):
        x = left + index * (bar_w + gap)
        draw.rectangle((x, base - value * 14, x + bar_w, base), fill=color, outline="white", width=3)
    draw.line((100, base, width - 100, base), fill="white", width=4)
    draw.text((width - 110, 90), "Demo", fill="white", font=_font(150), anchor="ra")
    return _png(image)


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


class DemoError(Exception):
    """The database is not ready for the demo (e.g. migrations missing)."""


@dataclass
class LoadResult:
    created: list[str] = field(default_factory=list)  # slugs of blogs created now
    existing: list[str] = field(default_factory=list)  # slugs left as they were
    posts: int = 0
    authors_created: int = 0
    user_created: bool = False


def election_anchor(now: datetime, tz: ZoneInfo, blog: DemoBlog) -> datetime:
    """The most recent evening at `anchor_hour` whose last post already lies in the past."""
    last = max(post.minutes for post in blog.posts)
    day: date = now.astimezone(tz).date()
    while True:
        anchor = datetime.combine(day, time(blog.anchor_hour), tzinfo=tz)
        if anchor + timedelta(minutes=last) < now:
            return anchor
        day -= timedelta(days=1)


def _ensure_editor() -> tuple[User, bool]:
    try:
        editors = Group.objects.get(name=EDITORS_GROUP)
    except Group.DoesNotExist:
        raise DemoError(f'The group "{EDITORS_GROUP}" is missing; run `manage.py migrate` first.') from None
    user = User.objects.filter(username=EDITOR_USERNAME).first()
    if user is not None:
        return user, False  # someone's account: never touch its password or flags
    user = User.objects.create_user(
        EDITOR_USERNAME,
        email="redaktion@example.org",
        password=EDITOR_PASSWORD,
        first_name="Daniel",
        last_name="Okafor",
        is_staff=True,
    )
    user.groups.add(editors)
    return user, True


def _ensure_author(spec: DemoAuthor, user: User) -> tuple[Author, bool]:
    author, created = Author.objects.get_or_create(
        slug=spec.slug, defaults={"name": spec.name, "role": spec.role, "bio": spec.bio}
    )
    if spec.is_editor and author.user_id is None and not Author.objects.filter(user=user).exists():
        author.user = user
        author.save(update_fields=["user"])
    if not author.avatar:
        author.replace_avatar(process_avatar(avatar_png(spec.initials, spec.color)))
    return author, created


def _create_blog(
    spec: DemoBlog, authors: dict[str, Author], actor: User, now: datetime, chart: ProcessedImage | None
) -> LiveBlog:
    tz = ZoneInfo(TIME_ZONE)
    day = election_anchor(now, tz, ELECTION).date() - timedelta(days=spec.days_before)
    anchor = datetime.combine(day, time(spec.anchor_hour), tzinfo=tz)
    first = min(post.minutes for post in spec.posts)
    blog = LiveBlog.objects.create(
        slug=spec.slug,
        kicker=spec.kicker,
        title=spec.title,
        teaser=spec.teaser,
        language=LiveBlog.Language.GERMAN,
        time_zone=TIME_ZONE,
        topic_title=spec.topic_title,
        topic_url=spec.topic_url,
        credit_line=spec.credit_line,
        # go_live() keeps an existing start, so coverage begins before the first post.
        coverage_started_at=anchor + timedelta(minutes=first - 15),
    )
    blog = services.go_live(blog, actor=actor)
    for post_spec in sorted(spec.posts, key=lambda p: p.minutes):
        post = Post(
            live_blog=blog,
            headline=post_spec.headline,
            body=post_spec.body,
            is_important=post_spec.is_important,
            is_pinned=post_spec.is_pinned,
            source=post_spec.source,
            published_at=anchor + timedelta(minutes=post_spec.minutes),
        )
        image = None
        if post_spec.image:
            image = chart
            post.image_alt = post_spec.image_alt
            post.image_caption = post_spec.image_caption
            post.image_credit = post_spec.image_credit
        services.publish_post(
            post, authors=[authors[slug] for slug in post_spec.authors], image=image, actor=actor
        )
    if spec.archive:
        blog = services.archive_blog(blog, actor=actor)
    return blog


def load(now: datetime | None = None) -> LoadResult:
    """Create whatever part of the demo is missing; leave existing blogs untouched."""
    now = now or timezone.now()
    result = LoadResult()
    existing = set(LiveBlog.objects.filter(slug__in=[b.slug for b in BLOGS]).values_list("slug", flat=True))
    result.existing = [b.slug for b in BLOGS if b.slug in existing]
    missing = [b for b in BLOGS if b.slug not in existing]
    if not missing:
        return result
    with transaction.atomic():
        user, result.user_created = _ensure_editor()
        authors = {}
        for spec in AUTHORS:
            authors[spec.slug], created = _ensure_author(spec, user)
            result.authors_created += created
        needs_chart = any(p.image for b in missing for p in b.posts)
        chart = process_photo(chart_png()) if needs_chart else None
        for spec in missing:
            _create_blog(spec, authors, user, now, chart)
            result.created.append(spec.slug)
            result.posts += len(spec.posts)
    return result
