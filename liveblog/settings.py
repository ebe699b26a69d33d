"""Settings for Liveblog, read from the environment.

Defaults are for a developer's laptop (SQLite file, in-memory channel layer) and fail safe in
production: DEBUG is off unless DJANGO_DEBUG is set, and without DEBUG there is no secret key
default, so a forgotten variable stops the process instead of running with a known key.
"""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _
from django_prose_editor.config import html_tags
from js_asset import static_lazy

from liveblog.database import database_from_environment
from liveblog.env import env_bool, env_list
from liveblog.layers import redis_channel_layer

BASE_DIR = Path(__file__).resolve().parent.parent


DEBUG = env_bool("DJANGO_DEBUG")

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off (production).")
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    # Daphne first so that `runserver` is Daphne too, as in production.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "channels",
    "axes",
    "django_htmx",
    "django_prose_editor",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "accounts",
    "authors",
    "posts",
    "live",
    "archive",
    "api",
    "demo",
    "ops",
]

MIDDLEWARE = [
    # Outermost: every record logged while answering carries the request's context, and its access
    # line has the status and time of the response the client actually gets (ops/logs.py).
    "ops.logs.request_log",
    # Scrapers reach each worker by its address, not a public host name (ops/views.py).
    "ops.views.metrics_before_host_checks",
    "django.middleware.security.SecurityMiddleware",
    # Outermost but for HSTS & co.: every response gets the policy and the frame guard, also one
    # made from an error raised in a middleware below (and static files).
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Django's, but a response in its blog's language (reader pages, API) keeps that language.
    "liveblog.middleware.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): whether this session proved a two-step login code.
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # A view that cannot reach the database answers 503 + Retry-After, never a 500 or a false "saved";
    # inside the others, so its response gets the same headers (CSP etc.).
    "liveblog.middleware.DatabaseUnavailableMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its lockout response.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # First, so that a locked-out user or address is refused before the password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Login brute force (accounts/lockout.py): 5 failures for one username *from one address* lock
# that pair for the cool-off; the same editor elsewhere, and colleagues at that address, still log
# in (a lock per username or per address alone would let an attacker lock the desk out). An
# address whose failures name 10 different usernames is refused for everyone (credential stuffing).
AXES_FAILURE_LIMIT = int(os.environ.get("LIVEBLOG_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(os.environ.get("LIVEBLOG_LOGIN_COOLOFF_HOURS", "0.25"))  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
LIVEBLOG_LOGIN_ADDRESS_USER_LIMIT = int(os.environ.get("LIVEBLOG_LOGIN_ADDRESS_USER_LIMIT", "10"))
AXES_HANDLER = "accounts.lockout.LoginLockoutHandler"
AXES_RESET_ON_SUCCESS = True  # a good login clears its own pair's failures, nobody else's
# Tries while locked are refused without being counted: retrying cannot stretch a lock.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"  # 429, no hint what was wrong
# Lockouts count the client behind our trusted proxies, not the proxy (ops/clients.py).
AXES_CLIENT_IP_CALLABLE = "ops.clients.request_client_ip"

ROOT_URLCONF = "liveblog.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

ASGI_APPLICATION = "liveblog.asgi.application"
WSGI_APPLICATION = None

DATABASES = {"default": database_from_environment(BASE_DIR)}


REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {"default": redis_channel_layer(REDIS_URL)}
else:
    # One process only: fine for `make run` and tests, never for several Daphne workers.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Live sockets: how often each process pings its readers with the blog's newest seq (from the
# database; a reader that missed pushes catches up), and re-joins its channel-layer groups.
LIVEBLOG_HEARTBEAT_SECONDS = float(os.environ.get("LIVEBLOG_HEARTBEAT_SECONDS", "25"))
LIVEBLOG_GROUP_REFRESH_SECONDS = float(os.environ.get("LIVEBLOG_GROUP_REFRESH_SECONDS", "60"))

# Catch-up requests (/live/<slug>/events/) served at once per process; more wait up to 5 s, then
# get 503 + Retry-After. Bounds database connections when every reader catches up at once.
LIVEBLOG_CATCH_UP_CONCURRENCY = int(os.environ.get("LIVEBLOG_CATCH_UP_CONCURRENCY", "8"))
# Catch-ups one client address may make at once per process, refilled over 30 s (live/clients.py);
# more get 429 + Retry-After. 0: no limit.
LIVEBLOG_CATCH_UPS_PER_CLIENT = int(os.environ.get("LIVEBLOG_CATCH_UPS_PER_CLIENT", "60"))

# WebSocket abuse limits (live/consumers.py): sockets per client address and process, and client
# frames per window before that socket is closed (4008).
LIVEBLOG_MAX_SOCKETS_PER_CLIENT = int(os.environ.get("LIVEBLOG_MAX_SOCKETS_PER_CLIENT", "20"))
LIVEBLOG_WS_MAX_FRAMES = int(os.environ.get("LIVEBLOG_WS_MAX_FRAMES", "50"))
LIVEBLOG_WS_FRAME_WINDOW = float(os.environ.get("LIVEBLOG_WS_FRAME_WINDOW", "10"))
# Our reverse proxies (addresses or networks, e.g. "127.0.0.1,10.0.0.0/24"): X-Forwarded-For is
# believed only from them, hop by hop from the right (ops/clients.py). Empty: never believed.
LIVEBLOG_TRUSTED_PROXIES = env_list("LIVEBLOG_TRUSTED_PROXIES")

# Two-step login (accounts/): the name authenticator apps show next to the code.
OTP_TOTP_ISSUER = os.environ.get("LIVEBLOG_OTP_ISSUER", "Liveblog")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "de"
LANGUAGES = [("de", _("German")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Europe/Berlin")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("DJANGO_MEDIA_ROOT", BASE_DIR / "media"))
# Media is served by the app itself (small newsroom deployments have no separate file server);
# see liveblog/urls.py. Set to off when a CDN or nginx serves MEDIA_ROOT.
SERVE_MEDIA = env_bool("DJANGO_SERVE_MEDIA", default=True)

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "liveblog.storage.CompressedManifestModuleStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# Uploads: the image pipeline refuses anything larger, before Pillow sees it.
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024

LOGIN_URL = "admin:login"

# `manage.py archive_idle_blogs` archives live blogs without a post for this many days.
LIVEBLOG_AUTO_ARCHIVE_DAYS = int(os.environ.get("LIVEBLOG_AUTO_ARCHIVE_DAYS", "7"))
# Partner sites that may show /live/<slug>/embed/ in an iframe (CSP frame-ancestors), e.g.
# "https://www.partner.example,https://news.example". Empty: only our own pages may frame it.
LIVEBLOG_EMBED_ORIGINS = env_list("LIVEBLOG_EMBED_ORIGINS")
# Absolute address of the site (e.g. https://liveblog.example.org), for links in static exports.
LIVEBLOG_PUBLIC_URL = os.environ.get("LIVEBLOG_PUBLIC_URL", "")

# Security headers. Production (DEBUG off) gets the strict set that `check --deploy` expects.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    # Health checks (compose, orchestrators) ask a worker directly over plain HTTP: a redirect
    # would read as "not ready". They answer nothing worth TLS.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    # Believed from anyone who reaches a worker: workers must be reachable only through the proxy,
    # which overwrites this header (deploy/nginx/; docker-compose.yml publishes no worker port).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:", "blob:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# Logs (ops/logs.py): one JSON object per line in production (timestamp, level, logger, message,
# the request's method/path/client, a traceback as one field), plain text for a developer.
LOG_FORMAT = os.environ.get("LIVEBLOG_LOG_FORMAT", "text" if DEBUG else "json")
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured("LIVEBLOG_LOG_FORMAT must be json or text.")
LOGGING_CONFIG = "ops.logs.configure"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "ops.logs.JsonFormatter"},
        "text": {"format": "{asctime} {levelname} {name}: {message}", "style": "{"},
    },
    "filters": {"request_context": {"()": "ops.logs.RequestContextFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_context"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {
        # Configured here, so Django's default console handler on it goes (it printed django.*
        # records a second time, unformatted, with DEBUG on); they reach ours through the root.
        "django": {"level": "INFO"},
        "django.db.backends": {"level": "INFO"},
        # One line per request: the structured access log in production. A developer's console
        # has Daphne's access lines already.
        "liveblog.access": {"level": "INFO" if LOG_FORMAT == "json" else "WARNING"},
    },
}

# Prometheus metrics at /metrics (ops/metrics.py), per worker process. Without a token there is no
# endpoint (404); scrapers send `Authorization: Bearer <token>`, optionally only from these
# addresses or networks. Each sample's `worker` label: this name, else <hostname>:<pid>.
LIVEBLOG_METRICS_TOKEN = os.environ.get("LIVEBLOG_METRICS_TOKEN", "")
LIVEBLOG_METRICS_NETWORKS = env_list("LIVEBLOG_METRICS_NETWORKS")
LIVEBLOG_WORKER_NAME = os.environ.get("LIVEBLOG_WORKER_NAME", "")

# Rich text in the composer and the admin: only what a live-blog post needs.
PROSE_EDITOR_EXTENSIONS = {
    "Bold": True,
    "Italic": True,
    "Link": {"enableTarget": False},
    "BulletList": True,
    "OrderedList": True,
    "ListItem": True,
    "Blockquote": True,
    "HardBreak": True,
    "History": True,
    # Ours: tiptap's base CSS from a static file instead of an inline <style> the CSP blocks.
    "StaticEditorStyles": True,
}
# The JavaScript of our own editor extensions (the "configurable" preset imports it).
DJANGO_PROSE_EDITOR_EXTENSIONS = [
    {
        "js": [static_lazy("js/prose-editor-styles.js")],
        "extensions": {"StaticEditorStyles": html_tags(tags=[])},  # no markup of its own
    },
]
