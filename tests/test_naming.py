import pytest
from sqlalchemy import Column, Engine, Integer, String, Table, UniqueConstraint, inspect
from sqlalchemy.exc import InvalidRequestError

from schemakit import NAMING_CONVENTION, make_metadata, shorten_identifier
from schemakit.naming import MAX_IDENTIFIER_BYTES, qualified_name, quote_identifier, quote_literal
from tests.library.models import Shelf, Warehouse


def test_convention_names_every_kind_of_object() -> None:
    assert dict(NAMING_CONVENTION) == {
        "ix": "idx_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "chk_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }


def test_composite_keys_name_all_their_columns() -> None:
    metadata = make_metadata()
    table = Table(
        "pairs",
        metadata,
        Column("a", Integer, primary_key=True),
        Column("b", Integer),
        Column("c", Integer),
        UniqueConstraint("a", "b"),
        UniqueConstraint("a", "c"),
    )
    assert {c.name for c in table.constraints} == {"pk_pairs", "uq_pairs_a_b", "uq_pairs_a_c"}


def test_long_names_are_shortened_deterministically() -> None:
    long = "fk_" + "very_long_table_name_" * 5 + "x"
    short = shorten_identifier(long)
    assert len(short.encode()) <= MAX_IDENTIFIER_BYTES
    assert short == shorten_identifier(long)
    assert short.startswith("fk_very_long_table_name_")
    assert shorten_identifier(long + "y") != short
    assert shorten_identifier("pk_users") == "pk_users"


def test_shortening_counts_bytes_not_characters() -> None:
    name = "idx_" + "é" * 60
    short = shorten_identifier(name)
    assert len(short.encode()) <= MAX_IDENTIFIER_BYTES
    short.encode().decode()  # still valid UTF-8


def test_long_convention_names_fit_postgres() -> None:
    names = {c.name for c in Warehouse.__table__.constraints} | {c.name for c in Shelf.__table__.constraints}
    assert all(len(str(name).encode()) <= MAX_IDENTIFIER_BYTES for name in names), names
    (fk,) = Shelf.__table__.foreign_key_constraints
    assert fk.name == shorten_identifier(
        "fk_shelves_region_code_site_number_within_region_warehouse_locations_with_a_deliberately_very_long_table_name"
    )


def test_an_unnamed_check_constraint_is_refused() -> None:
    from sqlalchemy import CheckConstraint

    metadata = make_metadata()
    with pytest.raises(InvalidRequestError, match="requires that constraint is explicitly named"):
        Table("things", metadata, Column("n", Integer), CheckConstraint("n > 0"))


def test_reflected_schema_carries_the_conventional_names(engine: Engine) -> None:
    inspector = inspect(engine)
    assert inspector.get_pk_constraint("orders")["name"] == "pk_orders"
    assert {fk["name"] for fk in inspector.get_foreign_keys("order_items")} == {
        "fk_order_items_order_id_orders",
        "fk_order_items_product_id_products",
    }
    assert {uq["name"] for uq in inspector.get_unique_constraints("order_items")} == {
        "uq_order_items_order_id_product_id"
    }
    indexes = [ix for ix in inspector.get_indexes("orders") if not ix.get("duplicates_constraint")]
    assert {ix["name"] for ix in indexes} == {"idx_orders_user_id"}
    assert {uq["name"] for uq in inspector.get_unique_constraints("orders")} == {"uq_orders_number"}
    assert {ix["name"] for ix in inspector.get_indexes("users")} == {"idx_users_email"}
    assert {ck["name"] for ck in inspector.get_check_constraints("orders")} == {"chk_orders_status"}
    fk_names = {fk["name"] for fk in inspector.get_foreign_keys("shelves")}
    assert fk_names == {fk.name for fk in Shelf.__table__.foreign_key_constraints}
    assert inspector.get_pk_constraint(Warehouse.__tablename__)["name"] == Warehouse.__table__.primary_key.name


def test_a_string_column_is_left_alone() -> None:
    table = Table("t", make_metadata(), Column("name", String(10), index=True))
    assert {ix.name for ix in table.indexes} == {"idx_t_name"}


def test_identifiers_are_quoted_with_inner_quotes_doubled() -> None:
    assert quote_identifier("orders") == '"orders"'
    assert quote_identifier('odd"name') == '"odd""name"'
    assert qualified_name("orders") == '"orders"'
    assert qualified_name("orders", "shop") == '"shop"."orders"'


def test_literals_are_quoted_with_inner_quotes_doubled() -> None:
    assert quote_literal("shop") == "'shop'"
    assert quote_literal("it's") == "'it''s'"
