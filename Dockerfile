# Production image for Liveblog: Daphne serving HTTP + WebSockets. Behind nginx (docker-compose.yml)
# the collected static files are copied into a volume nginx serves; alone, WhiteNoise serves them.
# Configuration comes from the environment at run time (see docker-compose.yml and
# liveblog/settings.py); nothing secret is baked into the image.

# --- build: dependencies, compiled translations, collected static files -------------------------
FROM python:3.13-slim AS build

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# gettext only for compilemessages; it stays out of the final image.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"

# Pinned, complete dependency set (every package installs from a wheel; no compiler needed).
COPY requirements/base.txt /tmp/requirements-base.txt
RUN pip install -r /tmp/requirements-base.txt && pip check

WORKDIR /app
COPY . .

# Settings refuse to load without a secret key when DEBUG is off; these commands need no real
# secret, so a throwaway value is set for these RUN lines only (it is not stored in the image's
# environment). DEBUG stays off, so collectstatic writes WhiteNoise's compressed, hashed files
# and the manifest that production needs.
RUN DJANGO_SECRET_KEY=build-only-not-a-secret python manage.py compilemessages --ignore=.venv -v 0 \
    && DJANGO_SECRET_KEY=build-only-not-a-secret DJANGO_STATIC_ROOT=/app/staticfiles \
       python manage.py collectstatic --noinput -v 0

# --- runtime ---------------------------------------------------------------------------------------
FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH="/opt/venv/bin:$PATH" \
    DJANGO_STATIC_ROOT=/app/staticfiles \
    DJANGO_MEDIA_ROOT=/data/media

RUN groupadd --system --gid 10001 liveblog \
    && useradd --system --uid 10001 --gid liveblog --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin liveblog \
    && mkdir -p /data/media /data/static \
    && chown liveblog:liveblog /data/media /data/static

COPY --from=build /opt/venv /opt/venv
# Code and static files stay owned by root: the app user can read but not change them.
COPY --from=build /app /app

WORKDIR /app
USER liveblog

# Uploaded images, and the static files for nginx (compose's setup service copies them there);
# mount volumes here (a new named volume inherits the directory's owner).
VOLUME ["/data/media", "/data/static"]
EXPOSE 8000

# docker-compose.yml runs migrations first (its setup service); this default serves only. Never
# --proxy-headers: Daphne would believe X-Forwarded-For from anyone (LIVEBLOG_TRUSTED_PROXIES is
# the app's own, narrower rule).
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "liveblog.asgi:application"]
