from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, event, func, literal, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import ORMExecuteState, joinedload, selectinload, subqueryload

from schemakit import acting_as, make_session_factory, session_scope
from tests.helpers import make_order, make_product, make_user
from tests.library.models import Author, Order, OrderItem, Post, Product, Reading, Tag, User


@pytest.fixture
def blog(engine: Engine) -> Author:
    """An author with three posts, one soft-deleted; one post has a live and a deleted tag."""
    with session_scope(make_session_factory(engine)) as session:
        live_tag, dead_tag = Tag(name="live"), Tag(name="dead")
        author = Author(name="ada")
        author.posts = [Post(title="a", tags=[live_tag, dead_tag]), Post(title="b"), Post(title="c")]
        session.add(author)
        session.flush()
        author.posts[1].soft_delete()
        dead_tag.soft_delete()
    return author


def test_soft_deleted_rows_are_hidden_from_selects(engine: Engine, blog: Author) -> None:
    with make_session_factory(engine)() as session:
        assert session.scalars(select(Post.title).order_by(Post.title)).all() == ["a", "c"]
        assert [p.title for p in session.scalars(select(Post).order_by(Post.title))] == ["a", "c"]
        assert session.scalars(select(Post).where(Post.title == "b")).one_or_none() is None


def test_statements_of_no_model_pass_the_filter_untouched(engine: Engine) -> None:
    # A function or a literal has no model behind it: the filter has nothing to add, and must not fail.
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.abs(-3))) == 3
        assert session.scalar(select(func.count()).select_from(select(literal(1)).subquery())) == 1


def test_include_deleted_shows_them(engine: Engine, blog: Author) -> None:
    with make_session_factory(engine)() as session:
        statement = select(Post).order_by(Post.title).execution_options(include_deleted=True)
        posts = session.scalars(statement).all()
        assert [(p.title, p.is_deleted) for p in posts] == [("a", False), ("b", True), ("c", False)]
        deleted = session.scalars(select(Post).where(Post.is_deleted).execution_options(include_deleted=True))
        assert [p.title for p in deleted] == ["b"]


def test_the_rows_are_still_in_the_table(engine: Engine, blog: Author) -> None:
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM posts")) == 3


@pytest.mark.parametrize(
    "loader",
    [None, selectinload(Author.posts), joinedload(Author.posts), subqueryload(Author.posts)],
    ids=["lazy", "selectin", "joined", "subquery"],
)
def test_one_to_many_loads_hide_deleted_children(engine: Engine, blog: Author, loader: object) -> None:
    with make_session_factory(engine)() as session:
        statement = select(Author)
        if loader is not None:
            statement = statement.options(loader)  # type: ignore[arg-type]
        author = session.scalars(statement).unique().one()
        assert [post.title for post in author.posts] == ["a", "c"]


@pytest.mark.parametrize(
    "loader",
    [None, selectinload(Post.tags), joinedload(Post.tags)],
    ids=["lazy", "selectin", "joined"],
)
def test_many_to_many_loads_hide_deleted_targets(engine: Engine, blog: Author, loader: object) -> None:
    with make_session_factory(engine)() as session:
        statement = select(Post).where(Post.title == "a")
        if loader is not None:
            statement = statement.options(loader)  # type: ignore[arg-type]
        post = session.scalars(statement).unique().one()
        assert [tag.name for tag in post.tags] == ["live"]


def test_relationship_of_an_object_never_queried_is_filtered(engine: Engine, blog: Author) -> None:
    with make_session_factory(engine)() as session:
        author = session.get_one(Author, blog.id)
        session.expire_all()
        assert [post.title for post in author.posts] == ["a", "c"]


def test_eager_loads_follow_include_deleted(engine: Engine, blog: Author) -> None:
    with make_session_factory(engine)() as session:
        statement = select(Author).options(selectinload(Author.posts)).execution_options(include_deleted=True)
        author = session.scalars(statement).one()
        assert [post.title for post in author.posts] == ["a", "b", "c"]


def test_many_to_one_and_secondary_loads_in_the_demo_domain(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        kept, dropped = make_product("KEPT"), make_product("DROPPED")
        order = make_order(make_user(), kept, dropped)
        session.add(order)
        session.flush()
        dropped.soft_delete()
    with factory() as session:
        loaded = session.scalars(select(Order).options(selectinload(Order.products))).one()
        assert [product.sku for product in loaded.products] == ["KEPT"]
        items = session.scalars(select(OrderItem).options(joinedload(OrderItem.product))).all()
        assert sorted(item.product.sku for item in items if item.product) == ["KEPT"]


def test_restore_brings_a_row_back(engine: Engine, blog: Author) -> None:
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        post = session.scalars(select(Post).where(Post.title == "b").execution_options(include_deleted=True)).one()
        post.restore()
    with factory() as session:
        assert session.scalars(select(Post.title).order_by(Post.title)).all() == ["a", "b", "c"]


def test_soft_delete_keeps_the_first_deletion_time(engine: Engine) -> None:
    first = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    product = make_product("X")
    product.soft_delete(at=first)
    product.soft_delete()
    assert product.deleted_at == first
    assert product.is_deleted


def test_soft_delete_records_the_actor(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with acting_as("creator"), session_scope(factory) as session:
        user = make_user()
        session.add(user)
    with acting_as("admin-7"), session_scope(factory) as session:
        session.get_one(User, user.id).soft_delete()
    with factory() as session:
        row = session.scalars(select(User).execution_options(include_deleted=True)).one()
        assert (row.created_by, row.updated_by, row.is_deleted) == ("creator", "admin-7", True)


def test_a_deleted_email_can_be_registered_again(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        first = make_user("ada@example.test")
        session.add(first)
        session.flush()
        first.soft_delete()
    with session_scope(factory) as session:
        session.add(make_user("ada@example.test"))
    with (
        pytest.raises(IntegrityError, match=r"idx_users_email|users\.email"),
        session_scope(factory) as session,
    ):
        session.add(make_user("ada@example.test"))
    with factory() as session:
        rows = session.scalars(select(User).execution_options(include_deleted=True)).all()
        assert sorted(row.is_deleted for row in rows) == [False, True]


def test_unique_among_live_needs_a_column() -> None:
    from schemakit import unique_among_live

    with pytest.raises(ValueError, match="at least one column"):
        unique_among_live()


def test_products_are_filtered_by_get_when_not_in_the_identity_map(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        product = make_product("GONE")
        session.add(product)
        session.flush()
        product.soft_delete()
    with factory() as session:
        assert session.get(Product, product.id) is None
        shown = session.get(Product, product.id, execution_options={"include_deleted": True})
        assert shown is not None
        assert shown.is_deleted


def test_merging_a_detached_soft_deleted_object_finds_its_row(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        tag = Tag(name="old")
        session.add(tag)
        session.flush()
        tag.soft_delete()
    tag.name = "renamed while detached"
    with session_scope(factory) as session:
        merged = session.merge(tag)  # must update the row, not insert it again
        assert merged.is_deleted
    with factory() as session:
        rows = session.scalars(select(Tag).execution_options(include_deleted=True)).all()
        assert [(row.name, row.is_deleted) for row in rows] == [("renamed while detached", True)]
        assert session.scalars(select(Tag)).all() == []  # the filter is back on after the merge


def test_a_model_joined_to_a_soft_deletable_one_sees_only_live_rows(engine: Engine, blog: Author) -> None:
    with session_scope(make_session_factory(engine)) as session:
        session.add_all([Reading(sensor="a"), Reading(sensor="b")])
    with make_session_factory(engine)() as session:
        # Reading has no relationship to Post: only the statement itself names the soft-deletable table.
        joined = select(Reading.sensor).join(Post, Post.title == Reading.sensor).order_by(Reading.sensor)
        assert session.scalars(joined).all() == ["a"]
        nested = select(Reading.sensor).where(Reading.sensor.in_(select(Post.title))).order_by(Reading.sensor)
        assert session.scalars(nested).all() == ["a"]
        by_relationship = select(Author.name).join(Author.posts).where(Post.title == "b")
        assert session.scalars(by_relationship).all() == []


def test_statements_without_a_soft_deletable_model_are_left_as_they_are(engine: Engine, blog: Author) -> None:
    seen: list[object] = []

    def remember(execute_state: ORMExecuteState) -> None:
        seen.append(execute_state.statement)

    factory = make_session_factory(engine)
    with factory() as session:
        event.listen(session, "do_orm_execute", remember)
        plain = select(Reading).where(Reading.sensor == "none")
        assert session.scalars(plain).all() == []
        reaching = select(Author).where(Author.name == "ada")  # its posts are soft-deletable
        assert session.scalars(reaching).one().name == "ada"
        event.remove(session, "do_orm_execute", remember)
    # Listeners on the session run after those on the Session class, so each saw what schemakit left.
    assert seen[0] is plain
    assert seen[1] is not reaching
