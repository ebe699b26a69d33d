"""Through the real proxy: nginx (deploy/nginx/) in front of two Daphne workers, PostgreSQL, Redis.

The production-like run of scripts/prodlike (`make prod`), on the test database, with the
production settings (DEBUG off, TLS at nginx, SSL redirect, Secure cookies, LIVEBLOG_TRUSTED_PROXIES
naming nginx only). Readers come from many loopback addresses, as many clients would:
- 200 readers through the proxy get every post by push, published on either worker, none is
  refused with 4429; a reader on one worker gets the posts whose broadcast happened on the other;
- a forged X-Forwarded-For does not buy a client more sockets: it is counted by its real address;
- SIGKILL one worker: the other's readers are untouched, its own reconnect through the proxy to the
  survivor and catch up from the event log: nothing lost.
Also: the web service of docker-compose.yml passes `check --deploy` with compose's own environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import urllib.request
from collections import Counter

import pytest
from axes.models import AccessAttempt
from django.conf import settings as django_settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection

from bench.common.net import source_address
from posts import services
from posts.models import LiveBlog, Post
from scripts.prodlike import ProdLike
from scripts.prodlike.nginx import nginx_binary
from tests.conftest import _missing
from tests.factories import EditorFactory, LiveBlogFactory
from tests.prodlike import Desk, ProxyReader, first_frame, https_get, login_attempt, open_socket
from tests.servers import redis_layer, test_database_url


def through_the_proxy(test):
    """Marks of the tests that run the whole shape (the compose check below needs no service)."""
    for mark in (pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)):
        test = mark(test)
    return pytest.mark.usefixtures("layer")(test)


PASSWORD = "through the proxy 42"
READERS = 200
# Readers per source address: even with every socket on one worker (after a kill), far below the
# per-client cap of 20 per process.
PER_ADDRESS = 5
CAP = 20
DELIVERY = 30.0


@pytest.fixture(scope="module")
def site(django_db_setup, django_db_blocker):
    try:
        nginx_binary()
    except FileNotFoundError as error:
        _missing(str(error))
    with django_db_blocker.unblock():
        if connection.vendor != "postgresql":
            _missing("needs PostgreSQL: set DATABASE_URL=postgres://…")
        database_url = test_database_url()
    # The test database (this process writes and checks it), a throwaway Redis, two workers.
    with ProdLike(workers=2, database_url=database_url, demo=False, worker_header=True) as running:
        yield running


@pytest.fixture
def layer(site, settings):
    """This process publishes into the run's channel layer, as a third worker would."""
    settings.CHANNEL_LAYERS = redis_layer(site.redis_url, site.env["CHANNEL_LAYER_PREFIX"])


@pytest.fixture
def editor():
    editor = EditorFactory()
    hasher = PBKDF2PasswordHasher()  # the workers' hasher (the test settings' MD5 is not theirs)
    editor.password = hasher.encode(PASSWORD, hasher.salt())
    editor.save(update_fields=["password"])
    return editor


def publish(blog: LiveBlog, headline: str) -> Post:
    """From this process (a thread of the event loop's): its own connection, closed after."""
    try:
        return services.publish_post(Post(live_blog=LiveBlog.objects.get(pk=blog.pk), headline=headline))
    finally:
        connection.close()


def newest_seq(blog: LiveBlog) -> int:
    try:
        return LiveBlog.objects.get(pk=blog.pk).last_seq
    finally:
        connection.close()


def visible_posts(blog: LiveBlog) -> set[int]:
    return set(Post.objects.filter(live_blog=blog, deleted_at__isnull=True).values_list("pk", flat=True))


async def start_readers(
    site: ProdLike, slug: str, count: int, **options: object
) -> tuple[list[ProxyReader], list[asyncio.Task]]:
    readers = [ProxyReader(site, slug, source_address(i, PER_ADDRESS), **options) for i in range(count)]
    tasks = [asyncio.create_task(reader.run()) for reader in readers]
    await asyncio.wait_for(asyncio.gather(*(reader.ready.wait() for reader in readers)), 60)
    return readers, tasks


async def until_current(readers: list[ProxyReader], seq: int) -> None:
    async def current(reader: ProxyReader) -> None:
        while reader.last_seq < seq:
            await asyncio.sleep(0.05)

    await asyncio.wait_for(asyncio.gather(*(current(reader) for reader in readers)), DELIVERY)


async def stop_readers(readers: list[ProxyReader], tasks: list[asyncio.Task]) -> None:
    await asyncio.gather(*(reader.stop() for reader in readers))
    for task in tasks:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


@through_the_proxy
def test_a_forged_forwarded_for_does_not_escape_the_per_client_cap(site):
    blog = LiveBlogFactory()

    async def scenario() -> tuple[list, list]:
        opened = []
        try:
            # One client (one address) claiming to be 41 others: counted as itself, 20 per worker.
            forged = []
            for i in range(2 * CAP + 1):
                socket, worker = await open_socket(site, blog.slug, "127.0.0.250", f"203.0.113.{i + 1}")
                opened.append(socket)
                frame, code = await first_frame(socket)
                forged.append((worker, frame["type"] if frame else code))
            # 41 clients all forging one address: each is still counted as itself.
            genuine = []
            for i in range(2 * CAP + 1):
                socket, worker = await open_socket(site, blog.slug, f"127.0.1.{i + 2}", "203.0.113.7")
                opened.append(socket)
                frame, code = await first_frame(socket)
                genuine.append((worker, frame["type"] if frame else code))
            return forged, genuine
        finally:
            await asyncio.gather(*(socket.close() for socket in opened), return_exceptions=True)

    forged, genuine = asyncio.run(asyncio.wait_for(scenario(), 90))

    served = [outcome for _, outcome in forged]
    assert served.count("hello") == 2 * CAP
    assert served.count(4429) == 1
    per_worker = {site.worker_address(i): 0 for i in range(2)}
    for worker, outcome in forged:
        per_worker[worker] += outcome == "hello"
    assert per_worker == {site.worker_address(0): CAP, site.worker_address(1): CAP}
    assert [outcome for _, outcome in genuine] == ["hello"] * (2 * CAP + 1)


@through_the_proxy
def test_200_readers_through_the_proxy_get_every_post_published_on_either_worker(site, editor):
    blog = LiveBlogFactory()
    desk = Desk(site, editor.username, PASSWORD)
    workers = {site.worker_address(0), site.worker_address(1)}
    extra: list = []

    async def scenario() -> tuple[list[ProxyReader], dict[str, str]]:
        readers, tasks = await start_readers(site, blog.slug, READERS)
        try:
            # nginx sends a request to the worker holding fewest connections (least_conn): the
            # editor's first post goes where it goes; then idle sockets load that worker until it
            # holds more, and the second post must be saved by the other one.
            counts = Counter(reader.workers[0] for reader in readers)
            saved_on: dict[str, str] = {}
            saved_on["Aus dem Desk 1"] = first = await asyncio.to_thread(
                desk.publish, blog.pk, "Aus dem Desk 1"
            )
            while counts[first] <= min(counts[worker] for worker in workers):
                socket, worker = await open_socket(site, blog.slug, f"127.0.2.{len(extra) + 2}")
                extra.append(socket)
                await first_frame(socket)
                counts[worker] += 1
            saved_on["Aus dem Desk 2"] = await asyncio.to_thread(desk.publish, blog.pk, "Aus dem Desk 2")
            for n in range(3):
                await asyncio.to_thread(publish, blog, f"Aus dem Newsfeed {n}")
            await until_current(readers, await asyncio.to_thread(newest_seq, blog))
        finally:
            await stop_readers(readers, tasks)
            await asyncio.gather(*(socket.close() for socket in extra), return_exceptions=True)
        return readers, saved_on

    readers, saved_on = asyncio.run(asyncio.wait_for(scenario(), 150))

    assert set(saved_on.values()) == workers, "the desk's posts were both saved on one worker"
    blog.refresh_from_db()
    every_seq = set(range(1, blog.last_seq + 1))
    posts = visible_posts(blog)
    assert len(posts) == 5
    assert {reader.workers[0] for reader in readers} == workers
    for reader in readers:
        assert reader.closes == []  # no 4429, no close at all
        assert reader.workers == reader.workers[:1]
        assert reader.pushed == every_seq  # every post by push, none needed a catch-up
        assert reader.posts == posts
    # A post saved (and so broadcast, on commit) by one worker reached the readers of the other.
    seq_of = dict(Post.objects.filter(live_blog=blog).values_list("headline", "events__seq"))
    for headline, worker in saved_on.items():
        elsewhere = [reader for reader in readers if reader.workers[0] != worker]
        assert elsewhere and all(seq_of[headline] in reader.pushed for reader in elsewhere)


@through_the_proxy
def test_a_killed_worker_costs_its_readers_a_reconnect_and_the_others_nothing(site):
    blog = LiveBlogFactory()
    victim, survivor = site.worker_address(0), site.worker_address(1)

    async def scenario() -> list[ProxyReader]:
        # Reconnects wait 1-2 s: long enough that the posts below are committed before any is back.
        readers, tasks = await start_readers(site, blog.slug, READERS // 2, reconnect_delay=(1.0, 2.0))
        try:
            for n in range(3):
                await asyncio.to_thread(publish, blog, f"Vorher {n}")
            await until_current(readers, 3)
            site.kill_worker(0)
            # Published while the victim's readers are away: they get these only from the event log.
            for n in range(5):
                await asyncio.to_thread(publish, blog, f"Währenddessen {n}")
            await until_current(readers, 8)
        finally:
            await stop_readers(readers, tasks)
        return readers

    readers = asyncio.run(asyncio.wait_for(scenario(), 120))

    posts = visible_posts(blog)
    assert len(posts) == 8
    on_victim = [reader for reader in readers if reader.workers[0] == victim]
    on_survivor = [reader for reader in readers if reader.workers[0] == survivor]
    assert on_victim and on_survivor and len(on_victim) + len(on_survivor) == len(readers)
    for reader in on_survivor:
        assert reader.closes == [] and reader.workers == [survivor]  # the same socket throughout
        assert reader.pushed == set(range(1, 9))
        assert reader.posts == posts
    for reader in on_victim:
        assert 4429 not in reader.closes
        assert reader.workers[1:] and set(reader.workers[1:]) == {survivor}
        assert reader.catch_ups >= 1  # what it missed came from /live/<slug>/events/?after=
        assert reader.posts == posts  # 0 lost


@through_the_proxy
def test_an_attackers_failed_logins_through_the_proxy_do_not_lock_the_editor_out(site, editor):
    """The lockout counts the (user, client) pair behind nginx: an attacker failing with the editor's
    name, forging a new X-Forwarded-For each time, locks only itself, whichever worker answers."""
    attacker, newsroom = "127.0.0.21", "127.0.0.22"

    failures = [
        login_attempt(site, attacker, editor.username, "wrong password", forged=f"10.9.9.{n}")
        for n in range(5)
    ]
    editor_elsewhere = login_attempt(site, newsroom, editor.username, PASSWORD)
    # Right password from the locked address, often enough for least_conn to use both workers.
    attacker_with_password = {login_attempt(site, attacker, editor.username, PASSWORD) for _ in range(4)}

    assert failures == [200, 200, 200, 200, 429]
    assert editor_elsewhere == 302
    assert attacker_with_password == {429}
    # Recorded under the address nginx saw, not the forged ones.
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {attacker}


@through_the_proxy
def test_metrics_are_scraped_per_worker_and_never_through_the_proxy(site):
    token = site.env["LIVEBLOG_METRICS_TOKEN"]
    # The module's run may have lost a worker to the kill test: scrape the ones still running.
    running = [i for i, worker in enumerate(site.workers) if worker.process and worker.process.poll() is None]

    through, _ = asyncio.run(https_get(site, "/metrics", "127.0.0.9"))
    direct = [
        urllib.request.urlopen(
            urllib.request.Request(
                f"http://{site.worker_address(index)}/metrics", headers={"Authorization": f"Bearer {token}"}
            ),
            timeout=10,
        )
        for index in running
    ]

    assert through == 404
    assert running and [answer.status for answer in direct] == [200] * len(running)
    assert all(b"worker=" in answer.read() for answer in direct)


def test_compose_web_environment_passes_check_deploy():
    """CI runs the same: the web service's own environment, nothing from this process's."""
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "POSTGRES_PASSWORD": "p" * 32,
    }
    env["DJANGO_ALLOWED_HOSTS"] = "liveblog.example.org"
    argv = [sys.executable, "scripts/compose_env.py", "web", "--"]
    argv += [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    done = subprocess.run(argv, cwd=django_settings.BASE_DIR, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout
