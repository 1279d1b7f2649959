from __future__ import annotations

import json

from xinstruct.agents.memory import Memory


def sample(i: int, total: float, text: str | None = None) -> dict:
    return {
        "id": f"s{i}", "language": "python", "agent": "python", "round": 1,
        "instruction": text or f"Task number {i}: compute the {i}-th prime using a sieve over an array of size {i * 7}.",
        "solution": f"def p{i}(n):\n    return {i} * n + {i * i}\n", "tests": "assert True", "verdict": "passed",
        "scores": {"total": total},
    }


def distinct(i: int) -> str:
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo"]
    return " ".join(words[(i + k) % len(words)] + str(i * 31 + k) for k in range(12))


def test_bounded_and_ordered_by_score():
    mem = Memory("python", size=3, threshold=0.9)
    for i, total in enumerate([2.0, 4.0, 3.0]):
        assert mem.offer(sample(i, total, distinct(i)))[0]
    assert [it["id"] for it in mem.items] == ["s1", "s2", "s0"]
    admitted, why = mem.offer(sample(3, 5.0, distinct(3)))
    assert admitted and "evicted s0" in why
    assert [it["id"] for it in mem.items] == ["s3", "s1", "s2"]
    assert len(mem.items) == 3


def test_full_memory_rejects_a_sample_not_better_than_the_lowest():
    mem = Memory("python", size=2, threshold=0.9)
    mem.offer(sample(0, 3.0, distinct(0)))
    mem.offer(sample(1, 4.0, distinct(1)))
    assert mem.offer(sample(2, 3.0, distinct(2))) == (False, "below_memory_floor")
    assert {it["id"] for it in mem.items} == {"s0", "s1"}


def test_similar_sample_is_not_admitted_even_with_a_better_score():
    mem = Memory("python", size=5, threshold=0.7)
    text = "Write a function that returns the running maximum of a list of integers, keeping order."
    assert mem.offer(sample(0, 2.0, text))[0]
    near = {**sample(1, 5.0, text), "solution": sample(0, 2.0)["solution"]}
    assert mem.offer(near) == (False, "too_similar")
    assert mem.max_similarity(near)[1] == "s0"
    assert mem.offer(sample(2, 5.0, distinct(2)))[0]


def test_persisted_atomically_and_reloaded(tmp_path):
    mem = Memory("java", size=4, threshold=0.7)
    for i in range(3):
        mem.offer(sample(i, float(i + 1), distinct(i)))
    path = mem.save(tmp_path / "memory")
    assert path.name == "java.json"
    assert not list((tmp_path / "memory").glob(".*tmp*"))
    loaded = Memory.from_dict(json.loads(path.read_text()))
    assert [it["id"] for it in loaded.items] == [it["id"] for it in mem.items]
    clone = {**sample(9, 5.0, distinct(0)), "solution": sample(0, 1.0)["solution"]}
    assert loaded.offer(clone) == (False, "too_similar")
