import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from schemakit import ids, uuid7, uuid7_time

GENERATORS: dict[str, Callable[[], uuid.UUID]] = {"selected": uuid7, "pure-python": ids._CounterGenerator()}


@pytest.fixture(params=sorted(GENERATORS))
def generate(request: pytest.FixtureRequest) -> Callable[[], uuid.UUID]:
    return GENERATORS[request.param]


def test_ids_are_plain_version_7_uuids(generate: Callable[[], uuid.UUID]) -> None:
    value = generate()
    assert type(value) is uuid.UUID
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert uuid.UUID(str(value)) == value
    assert hash(value) == hash(uuid.UUID(str(value)))


def test_a_million_ids_increase_strictly_and_keep_to_the_clock(generate: Callable[[], uuid.UUID]) -> None:
    values = [generate() for _ in range(1_000_000)]
    finished_ms = time.time_ns() // 1_000_000
    assert all(a.int < b.int for a, b in pairwise(values))
    assert all(a < b for a, b in pairwise(values[:1000]))  # uuid.UUID ordering too
    drift_ms = (values[-1].int >> 80) - finished_ms
    assert drift_ms <= 10, f"the last id's time runs {drift_ms} ms ahead of the clock"


def test_ids_increase_across_threads() -> None:
    made: list[list[uuid.UUID]] = [[] for _ in range(4)]

    def work(into: list[uuid.UUID]) -> None:
        for _ in range(20_000):
            into.append(uuid7())

    threads = [threading.Thread(target=work, args=(bucket,)) for bucket in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [value for bucket in made for value in bucket]
    assert len(set(every)) == len(every)
    for bucket in made:
        assert bucket == sorted(bucket)


def test_a_clock_stepping_back_does_not_break_the_order(monkeypatch: pytest.MonkeyPatch) -> None:
    generator = ids._CounterGenerator()
    now = [1_700_000_000_000 * 1_000_000]
    monkeypatch.setattr(ids.time, "time_ns", lambda: now[0])
    first = generator()
    now[0] -= 5_000 * 1_000_000  # five seconds back
    second = generator()
    assert second.int > first.int
    assert second.int >> 80 == first.int >> 80


def test_counter_overflow_moves_to_the_next_millisecond(monkeypatch: pytest.MonkeyPatch) -> None:
    generator = ids._CounterGenerator()
    monkeypatch.setattr(ids.time, "time_ns", lambda: 1_700_000_000_000 * 1_000_000)
    first = generator()
    generator._counter = ids._COUNTER_MAX
    second = generator()
    assert second.int > first.int
    assert (second.int >> 80) == (first.int >> 80) + 1


def test_uuid7_time_reads_the_embedded_millisecond() -> None:
    before = datetime.now(UTC)
    value = uuid7()
    after = datetime.now(UTC)
    stamp = uuid7_time(value)
    assert stamp.tzinfo is UTC
    assert before - timedelta(milliseconds=1) <= stamp <= after


def test_uuid7_time_rejects_other_versions() -> None:
    with pytest.raises(ValueError, match="version 4 UUID"):
        uuid7_time(uuid.uuid4())


def test_the_generator_in_use_is_reported() -> None:
    assert ids.UUID7_GENERATOR in {"uuid_utils", "schemakit"}


def test_deterministic_ids_depend_only_on_their_parts() -> None:
    from schemakit import deterministic_uuid7
    from schemakit.ids import SEED_EPOCH

    first = deterministic_uuid7("users", "ada@example.test")
    assert first == deterministic_uuid7("users", "ada@example.test")
    assert first != deterministic_uuid7("users", "grace@example.test")
    assert first != deterministic_uuid7("users", "ada@example.test", "")
    assert deterministic_uuid7("a", "bc") != deterministic_uuid7("ab", "c")
    assert (first.version, first.variant) == (7, uuid.RFC_4122)
    assert uuid7_time(first) == SEED_EPOCH
    assert first < uuid7()
    # Seeded databases depend on these ids: they must not change from one release to the next.
    assert str(first) == "00dc6acf-ac00-7186-b51b-529e55c91674"
