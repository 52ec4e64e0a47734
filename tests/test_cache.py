"""Redis beside the database, against the real Redis on 127.0.0.1:6379 (its database 15, emptied by each test)."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, String, event
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from schemakit import (
    TYPE_ANNOTATION_MAP,
    DatabaseSettings,
    SoftDeleteMixin,
    make_engine,
    make_metadata,
    make_session_factory,
    utc_now,
)
from schemakit.cache import KeyKind, KeyRegistry, ModelCache, cache_client, check_redis
from schemakit.cli import main
from schemakit.errors import SchemakitError
from schemakit.provisioning.servers import free_port

URL = "redis://127.0.0.1:6379/15"


class CacheBase(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


class Placement(CacheBase):
    __tablename__ = "placements"
    shelf_id: Mapped[int] = mapped_column(primary_key=True)
    slot: Mapped[int] = mapped_column(primary_key=True)


class Shelf(SoftDeleteMixin, CacheBase):
    __tablename__ = "shelves"
    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(40))


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(URL, socket_connect_timeout=1)
    try:
        connection.ping()
    except redis.RedisError as exc:
        connection.close()
        if os.environ.get("CI") == "true":
            pytest.fail(f"no Redis on 127.0.0.1:6379 in CI: {exc}")
        pytest.skip(f"no Redis on 127.0.0.1:6379: {exc}")
    connection.flushdb()
    yield connection
    connection.flushdb()
    connection.close()


@pytest.fixture
def engine(empty_database_url: str) -> Iterator[Engine]:
    engine = make_engine(DatabaseSettings(database_url=empty_database_url, _env_file=None))
    CacheBase.metadata.create_all(engine)
    yield engine
    engine.dispose()


def test_keys_follow_the_pattern_and_the_registry_knows_their_kinds() -> None:
    registry = KeyRegistry()
    product = registry.cache("shop", "product")
    session = registry.session("shop")
    queue = registry.register(KeyKind("shop", "emails", "list", ttl=None))
    assert product.key("42") == "shop:product:42"
    assert session.key("ab12", "cart") == "shop:session:ab12:cart"
    assert (product.ttl, session.ttl, session.data_type, queue.ttl) == (3600, 86400, "hash", None)
    assert registry.kind_of("shop:session:ab12:cart") is session
    assert registry.kind_of("shop:orders:1") is None
    assert registry.kind_of("stray") is None
    with pytest.raises(SchemakitError, match="not a key part"):
        KeyKind("Shop", "product")
    with pytest.raises(SchemakitError, match="holds ':'"):
        product.key("a:b")
    with pytest.raises(SchemakitError, match="registered already"):
        registry.register(KeyKind("shop", "product", ttl=60))


def test_model_instances_are_read_through_and_cleared_on_commit(client: redis.Redis, engine: Engine) -> None:
    factory = make_session_factory(engine)
    shelves = ModelCache(client, KeyRegistry().cache("shop", "shelf"), Shelf)
    shelves.watch(factory)
    with factory() as session:
        session.add(Shelf(id=1, label="fiction"))
        session.commit()
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with factory() as session:
        assert shelves.get(session, 1).label == "fiction"  # type: ignore[union-attr]
    assert client.ttl("shop:shelf:1") == pytest.approx(3600, abs=5)
    read = len(statements)
    with factory() as session:
        cached = shelves.get(session, 1)
        assert cached is not None
        assert cached.label == "fiction"
        assert len(statements) == read  # served by Redis, not the database
        cached.label = "novels"
        session.flush()
        assert client.exists("shop:shelf:1")  # not before the commit
        session.rollback()
    assert client.exists("shop:shelf:1")  # a rolled-back change leaves the cache alone
    with factory() as session:
        shelf = shelves.get(session, 1)
        assert shelf is not None
        shelf.label = "novels"
        session.commit()
    assert not client.exists("shop:shelf:1")
    with factory() as session:
        assert shelves.get(session, 1).label == "novels"  # type: ignore[union-attr]
        shelf = shelves.get(session, 1)
        assert shelf is not None
        shelf.deleted_at = utc_now()
        session.commit()
    assert not client.exists("shop:shelf:1")
    assert json.loads(client.get("shop:shelf:1") or "null") is None


def test_a_model_with_a_composite_primary_key_is_refused_clearly(client: redis.Redis) -> None:
    with pytest.raises(SchemakitError, match="one-column primary key; Placement has not"):
        ModelCache(client, KeyRegistry().cache("shop", "placement"), Placement)


def test_a_redis_that_is_down_costs_the_cache_not_the_read(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    port = free_port("127.0.0.1")  # nothing listens there
    down = cache_client(f"redis://127.0.0.1:{port}/0")
    started = time.perf_counter()
    factory = make_session_factory(engine)
    shelves = ModelCache(down, KeyRegistry().cache("shop", "shelf"), Shelf)
    shelves.watch(factory)
    with factory() as session:
        session.add(Shelf(id=1, label="fiction"))
        session.commit()
    with factory() as session:
        shelf = shelves.get(session, 1)
        assert shelf is not None
        assert shelf.label == "fiction"
        shelf.label = "novels"
        session.commit()  # the key cannot be cleared: a warning, and the change is kept
    with factory() as session:
        assert session.get(Shelf, 1).label == "novels"  # type: ignore[union-attr]
    down.close()
    assert time.perf_counter() - started < 1  # no retries held the reads
    assert "could not read in Redis" in caplog.text
    assert "could not clear shop:shelf:1 in Redis" in caplog.text


def test_a_healthy_redis_with_orderly_keys_passes(client: redis.Redis) -> None:
    registry = KeyRegistry()
    registry.cache("shop", "product")
    registry.register(KeyKind("shop", "emails", "list", ttl=None))
    client.set("shop:product:1", "{}", ex=3600)
    client.rpush("shop:emails:outbox", "hello")
    report = check_redis(URL, registry)
    assert report.passed, report.text()
    assert report.keys == 2


def test_the_audit_finds_every_rogue_and_ttl_less_key(client: redis.Redis) -> None:
    registry = KeyRegistry()
    registry.cache("shop", "product")
    pipeline = client.pipeline()
    for number in range(3000):
        pipeline.set(f"shop:product:{number}", "{}", ex=3600)
    for number in range(30):
        pipeline.set(f"shop:product:forever{number}", "{}")  # a kind that expires, without a TTL
        pipeline.set(f"legacy:thing:{number}", "x", ex=60)  # of no kind
    pipeline.execute()
    report = check_redis(URL, registry)
    assert (report.keys, report.rogue_count, report.without_ttl_count) == (3060, 30, 30)
    assert all(key.startswith("legacy:thing:") for key in report.rogue)
    assert all(key.startswith("shop:product:forever") for key in report.without_ttl)
    assert len(report.rogue) == 20
    assert not report.passed


def test_a_redis_that_is_down_or_hung_is_reported_within_the_timeout() -> None:
    port = free_port("127.0.0.1")  # nothing listens there
    started = time.perf_counter()
    report = check_redis(f"redis://127.0.0.1:{port}/0")
    assert not report.reachable
    assert report.error
    assert time.perf_counter() - started < 0.3
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        accepted: list[socket.socket] = []
        threading.Thread(target=lambda: accepted.append(silent.accept()[0]), daemon=True).start()
        started = time.perf_counter()
        report = check_redis(f"redis://127.0.0.1:{silent.getsockname()[1]}/0")
        elapsed = time.perf_counter() - started
        for connection in accepted:
            connection.close()
    assert not report.reachable
    assert "Timeout" in str(report.error)
    assert elapsed < 0.6


def test_the_command_exits_by_what_it_found(
    client: redis.Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "shop_keys.py").write_text(
        "from schemakit.cache import KeyRegistry\nKEYS = KeyRegistry()\nKEYS.cache('shop', 'product')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    client.set("shop:product:1", "{}", ex=60)
    assert main(["redis", "check", "--url", URL, "--registry", "shop_keys:KEYS"]) == 0
    assert "1 keys audited" in capsys.readouterr().out
    client.set("stray", "x")
    assert main(["redis", "check", "--url", URL, "--registry", "shop_keys:KEYS", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["rogue"], report["without_ttl"], report["passed"]) == (["stray"], ["stray"], False)
    assert main(["redis", "check", "--url", URL, "--registry", "shop_keys:MISSING"]) == 2
    assert "cannot load the registry" in capsys.readouterr().err
    assert main(["redis", "check", "--url", "redis://127.0.0.1:1/0"]) == 2
    assert "is not answering" in capsys.readouterr().out
