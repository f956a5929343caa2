"""Bounded JSON parsing for the VC-API bodies (SECURITY V12): depth, size, duplicates, non-JSON constants."""

from __future__ import annotations

import time

import pytest

from nodes.web.errors import ProblemError
from nodes.web.json_body import MAX_DEPTH, MAX_VALUES, parse_json


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_documents_up_to_the_limits_are_accepted():
    assert isinstance(parse_json(_nested(MAX_DEPTH)), list)
    parse_json("[" + ",".join("0" for _ in range(MAX_VALUES - 1)) + "]")


@pytest.mark.parametrize("text, words", [
    (_nested(MAX_DEPTH + 1), "nests deeper"),
    (_nested(10_000), "nests too deeply"),
    ("[" + ",".join("0" for _ in range(100_000)) + "]", "more than"),
    ('{"a": 1, "a": 2}', "duplicate key"),
    ('{"a": NaN}', "not valid JSON"),
    ('{"a": Infinity}', "not valid JSON"),
    ("{", "not valid JSON"),
    (b"\xff", "not valid JSON"),
])
def test_v12_documents_past_the_limits_or_not_json_are_400_parsing_error_fast(text, words):
    started = time.perf_counter()
    with pytest.raises(ProblemError) as refused:
        parse_json(text)
    assert refused.value.status == 400 and refused.value.code == "PARSING_ERROR" and words in refused.value.detail
    assert time.perf_counter() - started < 0.5
