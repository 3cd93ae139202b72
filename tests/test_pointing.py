"""The pointing game of bench.pointing, smaller: the shipped model's map points at a bear pasted on
a neutral background, at half its side (the benchmark's game) and at a third, where pointing at the
middle of the picture no longer wins."""

import pytest

from bench.pointing import composites, inside, play
from helpers import published

pytestmark = pytest.mark.app


def test_the_map_points_at_the_bear(shipped_onnx):
    half, _ = play(shipped_onnx, list(composites(published("bears-test"), 15, seed=1)))
    assert half["hits"] >= 14, half["misses"]  # >= 90 %, as bench.pointing's target
    games = list(composites(published("bears-test"), 15, seed=1, scale=1 / 3))
    third, _ = play(shipped_onnx, games)
    middle = sum(inside((0.5, 0.5), box, size) for *_, size, box in games)
    assert third["answers_with_a_map"] >= 10 and middle <= 5
    assert third["hits"] >= 0.8 * third["answers_with_a_map"] and third["hits"] >= 2 * middle, third["misses"]
