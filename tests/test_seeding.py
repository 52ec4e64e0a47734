"""The seed loader and guard, on SQLite and PostgreSQL, against migrated databases."""

from __future__ import annotations

import gc
import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from schemakit import AppEnv, DatabaseSettings, make_engine, make_session_factory, session_scope, uuid7_time
from schemakit.environment_marker import read_environment_marker, write_environment_marker
from schemakit.ids import SEED_EPOCH
from schemakit.migrations import make_config, upgrade
from schemakit.seeding import (
    Fixture,
    FixtureError,
    SeedMode,
    SeedRefusedError,
    check_seed_target,
    load_fixture_file,
    load_fixtures,
    refusal_reasons,
    seed,
)
from tests.helpers import SHOP_TABLES, snapshot
from tests.library.models import LibraryBase, Order, OrderItem, Product, User
from tests.projects import LIBRARY, LIBRARY_INI

ROOT = Path(__file__).parent.parent
FIXTURES = LIBRARY / "fixtures"
TABLES = SHOP_TABLES


@pytest.fixture
def settings(empty_database_url: str) -> DatabaseSettings:
    return DatabaseSettings(database_url=empty_database_url, app_env="test", _env_file=None)


@pytest.fixture
def migrated(settings: DatabaseSettings) -> Engine:
    upgrade(make_config(LIBRARY_INI, settings=settings))
    engine = make_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture
def fixtures_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, folder)
    return folder


def run_seed(engine: Engine, folder: Path = FIXTURES, **options: Any) -> Any:
    with engine.connect() as connection:
        return seed(connection, load_fixtures(folder), mappers=LibraryBase.registry, **options)


def rewrite(path: Path, change: Any) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def counts(report: Any) -> dict[str, tuple[int, int, int]]:
    return {model.model: (model.inserted, model.updated, model.unchanged) for model in report.models}


def test_seeding_twice_changes_nothing_the_second_time(migrated: Engine) -> None:
    first = run_seed(migrated)
    assert counts(first) == {"User": (4, 0, 0), "Order": (3, 0, 0), "Product": (6, 0, 0), "OrderItem": (5, 0, 0)}
    before = snapshot(migrated)
    second = run_seed(migrated)
    assert (second.inserted, second.updated, second.unchanged) == (0, 0, 18)
    assert snapshot(migrated) == before  # counts, values, updated_at and versions all equal
    converged = run_seed(migrated, mode=SeedMode.CONVERGE)
    assert (converged.inserted, converged.updated) == (0, 0)
    assert snapshot(migrated) == before


def test_loaded_rows_are_complete_and_linked(migrated: Engine) -> None:
    run_seed(migrated)
    with make_session_factory(migrated)() as session:
        order = session.scalars(select(Order).where(Order.number == "SO-1002")).one()
        assert order.user.email == "grace@example.test"
        assert order.total == Decimal("51.50")
        assert sorted(item.product.sku for item in order.items) == ["NTB-006", "PEN-005"]
        assert order.meta == {"channel": "app"}
        assert (order.version, order.created_by, order.updated_by) == (1, "seed", "seed")
        product = session.scalars(select(Product).where(Product.sku == "TEE-002")).one()
        assert product.attributes == {"sizes": ["S", "M", "L", "XL"]}


def test_ids_are_deterministic_version_7(migrated: Engine, tmp_path: Path) -> None:
    run_seed(migrated)
    other = make_engine(DatabaseSettings(database_url=f"sqlite:///{tmp_path / 'other.db'}", _env_file=None))
    upgrade(make_config(LIBRARY_INI, settings=DatabaseSettings(database_url=str(other.url), _env_file=None)))
    run_seed(other)
    for engine in (migrated, other):
        with make_session_factory(engine)() as session:
            ids = {user.email: user.id for user in session.scalars(select(User))}
        assert {value.version for value in ids.values()} == {7}
        assert {uuid7_time(value) for value in ids.values()} == {SEED_EPOCH}
    with make_session_factory(migrated)() as first, make_session_factory(other)() as second:
        assert sorted(first.scalars(select(OrderItem.id))) == sorted(second.scalars(select(OrderItem.id)))
    other.dispose()


def test_converge_updates_a_changed_row_and_only_it(migrated: Engine, fixtures_copy: Path) -> None:
    run_seed(migrated, fixtures_copy)
    before = snapshot(migrated)
    with make_session_factory(migrated)() as session:
        old = {p.sku: (p.updated_at, p.version) for p in session.scalars(select(Product))}
    rewrite(fixtures_copy / "products.json", lambda data: data["rows"][0].update(price="13.75"))
    create_only = run_seed(migrated, fixtures_copy)
    assert create_only.updated == 0
    assert snapshot(migrated) == before
    report = run_seed(migrated, fixtures_copy, mode=SeedMode.CONVERGE)
    assert counts(report)["Product"] == (0, 1, 5)
    assert (report.inserted, report.updated) == (0, 1)
    with make_session_factory(migrated)() as session:
        now = {p.sku: (p.updated_at, p.version, p.price) for p in session.scalars(select(Product))}
    assert now["MUG-001"][2] == Decimal("13.75")
    assert now["MUG-001"][0] > old["MUG-001"][0]
    assert now["MUG-001"][1] == old["MUG-001"][1] + 1
    for sku, (updated_at, version) in old.items():
        if sku != "MUG-001":
            assert now[sku][:2] == (updated_at, version)
    after = snapshot(migrated)
    assert {table: after[table] == before[table] for table in TABLES} == {
        "users": True,
        "products": False,
        "orders": True,
        "order_items": True,
    }


def test_converge_restores_a_soft_deleted_row(migrated: Engine) -> None:
    run_seed(migrated)
    with session_scope(make_session_factory(migrated)) as session:
        session.scalars(select(User).where(User.email == "alan@example.test")).one().soft_delete()
    assert run_seed(migrated).updated == 0
    report = run_seed(migrated, mode=SeedMode.CONVERGE)
    assert counts(report)["User"] == (0, 1, 3)
    with make_session_factory(migrated)() as session:
        assert session.scalars(select(User).where(User.email == "alan@example.test")).one().deleted_at is None


def test_dry_run_reports_and_writes_nothing(migrated: Engine) -> None:
    report = run_seed(migrated, dry_run=True)
    assert report.inserted == 18
    assert "Dry run: nothing was written." in report.format()
    assert {table: count for table, (count, _) in snapshot(migrated).items()} == dict.fromkeys(TABLES, 0)


def test_a_natural_key_without_a_unique_constraint_is_rejected(migrated: Engine) -> None:
    fixture = Fixture("Product", ("name",), [{"sku": "X", "name": "X", "price": "1.00"}], source="products.json")
    with pytest.raises(FixtureError) as refused, migrated.connect() as connection:
        seed(connection, [fixture], mappers=LibraryBase.registry)
    assert str(refused.value).startswith(
        "products.json: the natural key (name) of Product matches no UNIQUE constraint or unique index of table "
        "products; its unique column sets are (id), (sku)."
    )
    assert snapshot(migrated)["products"][0] == 0


def test_a_dangling_reference_is_reported_by_file_and_row(migrated: Engine, fixtures_copy: Path) -> None:
    rewrite(fixtures_copy / "orders.json", lambda data: data["rows"][1].update(user="nobody@example.test"))
    with pytest.raises(FixtureError) as refused:
        run_seed(migrated, fixtures_copy)
    assert str(refused.value) == (
        f"{fixtures_copy / 'orders.json'} row 2, field 'user': refers to no User with email='nobody@example.test'"
    )
    assert {table: count for table, (count, _) in snapshot(migrated).items()} == dict.fromkeys(TABLES, 0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda row: row.update(price=12.5), "row 1, field 'price': cannot read 12.5 as Decimal: write decimal"),
        (lambda row: row.update(colour="red"), "row 1: Product has no column or many-to-one relationship 'colour'"),
        (lambda row: row.pop("sku"), "row 1: missing natural key field(s) sku"),
        (lambda row: row.update(name=None), "row 1, field 'name': name cannot be null"),
        (lambda row: row.update(name="x" * 300), "row 1, field 'name': cannot read 'xxxxxxxx"),
        (lambda row: row.update(price="NaN"), "row 1, field 'price': cannot read 'NaN' as Decimal: not a finite"),
        (lambda row: row.update(price="Infinity"), "field 'price': cannot read 'Infinity' as Decimal: not a finite"),
        (lambda row: row.update(price="12.505"), "field 'price': cannot read '12.505' as Decimal: 3 decimal places"),
        (lambda row: row.update(price="12345678901.00"), "field 'price': cannot read '12345678901.00' as Decimal: too"),
    ],
    ids=["float-money", "unknown-field", "missing-key", "null", "too-long", "nan", "infinity", "rounded", "too-big"],
)
def test_bad_rows_are_named(migrated: Engine, fixtures_copy: Path, change: Any, message: str) -> None:
    rewrite(fixtures_copy / "products.json", lambda data: change(data["rows"][0]))
    with pytest.raises(FixtureError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run_seed(migrated, fixtures_copy)


def test_a_row_the_database_refuses_is_named_and_nothing_is_written(migrated: Engine, fixtures_copy: Path) -> None:
    rewrite(fixtures_copy / "products.json", lambda data: data["rows"][2].update(price="-1.00"))  # CHECK price >= 0
    with pytest.raises(FixtureError) as refused:
        run_seed(migrated, fixtures_copy)
    message = str(refused.value)
    assert message.startswith(f"{fixtures_copy / 'products.json'} row 3: the database refused it: ")
    assert "chk_products_price_not_negative" in message
    assert {table: count for table, (count, _) in snapshot(migrated).items()} == dict.fromkeys(TABLES, 0)


def test_a_bad_enum_value_lists_the_allowed_ones(migrated: Engine, fixtures_copy: Path) -> None:
    rewrite(fixtures_copy / "orders.json", lambda data: data["rows"][0].update(status="lost"))
    with pytest.raises(FixtureError, match=r"row 1, field 'status': cannot read 'lost' as .*'pending', 'paid'"):
        run_seed(migrated, fixtures_copy)


def test_yaml_and_python_fixtures(migrated: Engine, tmp_path: Path) -> None:
    (tmp_path / "users.yaml").write_text(
        "model: User\nkey: email\nrows:\n  - email: yaml@example.test\n    display_name: From YAML\n"
    )
    (tmp_path / "products.py").write_text(
        "from schemakit.seeding import Fixture\n"
        "fixture = Fixture('Product', ('sku',), [{'sku': f'GEN-{n:03}', 'name': f'Generated {n}', "
        "'price': f'{n}.00'} for n in range(1, 51)])\n"
    )
    report = run_seed(migrated, tmp_path)
    assert counts(report) == {"User": (1, 0, 0), "Product": (50, 0, 0)}
    assert load_fixture_file(tmp_path / "users.yaml").key == ("email",)


def test_progress_is_reported_per_batch(migrated: Engine) -> None:
    rows = [{"sku": f"BULK-{n:05}", "name": "Bulk", "price": "1.00"} for n in range(2500)]
    seen: list[tuple[str, int, int]] = []
    with migrated.connect() as connection:
        seed(
            connection,
            [Fixture("Product", ("sku",), rows)],
            mappers=LibraryBase.registry,
            progress=lambda *a: seen.append(a),
        )
    assert seen == [("Product", 1000, 2500), ("Product", 2000, 2500), ("Product", 2500, 2500)]


def test_the_guard_reasons(migrated: Engine, settings: DatabaseSettings) -> None:
    assert refusal_reasons(settings, migrated) == []
    missing = DatabaseSettings(database_url=str(settings.url), _env_file=None)
    assert refusal_reasons(missing, migrated) == ["APP_ENV is not set (set it to development or test)"]
    production = settings.model_copy(update={"app_env": AppEnv.PRODUCTION})
    assert refusal_reasons(production, migrated) == ["APP_ENV is production, not development or test"]
    remote = DatabaseSettings(
        database_url="postgresql://app@db.example.test/shop", app_env="development", _env_file=None
    )
    assert "the database is on another host (db.example.test) while APP_ENV is development" in refusal_reasons(
        remote, migrated
    )
    with migrated.begin() as connection:
        write_environment_marker(connection, AppEnv.PRODUCTION)
    assert refusal_reasons(settings, migrated) == [
        "the database itself is marked as production (table schemakit_environment)"
    ]
    with pytest.raises(SeedRefusedError, match="--override-production-guard"):
        check_seed_target(settings, migrated)
    check_seed_target(settings, migrated, override=True)


def test_migrations_mark_the_database_and_never_lower_production(migrated: Engine, settings: DatabaseSettings) -> None:
    with migrated.connect() as connection:
        assert read_environment_marker(connection) == "test"
    with migrated.begin() as connection:
        write_environment_marker(connection, AppEnv.PRODUCTION)
    upgrade(make_config(LIBRARY_INI, settings=settings))  # migrated again with APP_ENV=test
    with migrated.connect() as connection:
        assert read_environment_marker(connection) == "production"


@pytest.mark.parametrize("running", [True, False])
def test_the_garbage_collector_is_paused_for_the_load_and_left_as_it_was(migrated: Engine, running: bool) -> None:
    seen: list[bool] = []

    def look(*_: Any) -> None:
        seen.append(gc.isenabled())

    was = gc.isenabled()
    (gc.enable if running else gc.disable)()
    try:
        run_seed(migrated, progress=look)
        assert gc.isenabled() is running
    finally:
        (gc.enable if was else gc.disable)()
    assert seen
    assert not any(seen)


def test_rows_added_to_a_table_that_has_rows_are_merged_by_key(migrated: Engine, fixtures_copy: Path) -> None:
    # The first load copies into empty tables; this one goes through the staging table and the upsert.
    run_seed(migrated)
    rewrite(fixtures_copy / "products.json", lambda data: data["rows"].append({**data["rows"][0], "sku": "NEW-1"}))
    report = run_seed(migrated, fixtures_copy)
    assert counts(report)["Product"] == (1, 0, 6)
    with make_session_factory(migrated)() as session:
        assert session.scalar(select(Product.name).where(Product.sku == "NEW-1")) is not None
