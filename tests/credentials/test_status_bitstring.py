"""Bitstring Status List 1.0: the compressed bitstring, its limits, and the spec's own example."""

from __future__ import annotations

import base64
import gzip
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credentials.status import (
    MIN_ENTRIES,
    Bitstring,
    MalformedValueError,
    StatusListLengthError,
    StatusRangeError,
    decode_bitstring,
    decode_list,
    encode_list,
)

# Example 3 of https://www.w3.org/TR/vc-bitstring-status-list/ : an empty list of 131,072 entries.
SPEC_EXAMPLE_LIST = "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA"


def _u(raw: bytes) -> str:
    return "u" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_spec_example_encoded_list_expands_to_131072_unset_entries():
    bits = decode_bitstring(SPEC_EXAMPLE_LIST)
    assert bits.entries == MIN_ENTRIES
    assert bits.to_bytes() == bytes(16384)


def test_index_zero_is_the_left_most_bit_of_the_first_byte():
    bits = Bitstring.zeros()
    bits.set(0, 1)
    bits.set(MIN_ENTRIES - 1, 1)
    raw = decode_list(bits.encode())
    assert raw[0] == 0x80 and raw[-1] == 0x01 and sum(raw[1:-1]) == 0


def test_s8_revocation_flips_exactly_one_bit_of_the_published_list():
    before = Bitstring.zeros()
    after = Bitstring(decode_list(before.encode()))
    after.set(94567, 1)
    diff = [a ^ b for a, b in zip(decode_list(before.encode()), decode_list(after.encode()), strict=True)]
    assert sum(bin(d).count("1") for d in diff) == 1
    assert after.get(94567) == 1 and after.get(94566) == 0 and after.get(94568) == 0


def test_encoding_is_deterministic_and_multibase_base64url_without_padding():
    bits = Bitstring.zeros()
    bits.set(42, 1)
    encoded = bits.encode()
    assert encoded == bits.encode()
    assert encoded.startswith("u") and "=" not in encoded and "+" not in encoded and "/" not in encoded
    assert gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))[5] == 0x20


def test_multi_bit_statuses_are_read_back_most_significant_bit_first():
    bits = Bitstring.zeros(status_size=2)
    bits.set(0, 0b10)
    bits.set(1, 0b01)
    bits.set(3, 0b11)
    assert decode_list(bits.encode())[0] == 0b10_01_00_11
    decoded = decode_bitstring(bits.encode(), status_size=2)
    assert [decoded.get(i) for i in range(5)] == [2, 1, 0, 3, 0]


@settings(max_examples=40, deadline=None)
@given(st.sets(st.integers(min_value=0, max_value=MIN_ENTRIES - 1), max_size=64))
def test_every_set_index_and_only_those_survive_an_encode_decode_round_trip(indexes):
    bits = Bitstring.zeros()
    for index in indexes:
        bits.set(index, 1)
    decoded = decode_bitstring(bits.encode())
    raw = decoded.to_bytes()
    assert sum(bin(b).count("1") for b in raw) == len(indexes)
    assert all(decoded.get(i) == 1 for i in indexes)


def test_a_new_list_with_fewer_than_131072_entries_is_refused():
    with pytest.raises(StatusListLengthError):
        Bitstring.zeros(MIN_ENTRIES - 1)


def test_s4_decompressed_list_shorter_than_131072_entries_is_status_list_length_error():
    with pytest.raises(StatusListLengthError) as caught:
        decode_bitstring(encode_list(bytes(16383)))
    assert caught.value.code == "STATUS_LIST_LENGTH_ERROR"
    assert caught.value.type_url == "https://www.w3.org/ns/credentials/status-list#STATUS_LIST_LENGTH_ERROR"


def test_s4_minimum_length_is_131072_entries_times_the_status_size():
    decode_bitstring(encode_list(bytes(16384)), status_size=1)
    with pytest.raises(StatusListLengthError):
        decode_bitstring(encode_list(bytes(16384)), status_size=2)
    assert decode_bitstring(encode_list(bytes(32768)), status_size=2).entries == MIN_ENTRIES


def test_gzip_bomb_is_refused_without_being_inflated():
    bomb = encode_list(bytes(64 * 1024 * 1024))  # 64 MiB of zeros, about 64 KB compressed
    started = time.perf_counter()
    with pytest.raises(MalformedValueError, match="exceeds the limit"):
        decode_list(bomb, max_bytes=1024 * 1024)
    assert time.perf_counter() - started < 5.0, "inflating 64 MiB would take far longer under a cap"


def test_a_list_exactly_at_the_size_cap_is_accepted():
    assert len(decode_list(encode_list(bytes(32768)), max_bytes=32768)) == 32768


@pytest.mark.parametrize(
    ("encoded", "reason"),
    [
        (SPEC_EXAMPLE_LIST[1:], "starting with 'u'"),
        ("z" + SPEC_EXAMPLE_LIST[1:], "starting with 'u'"),
        (SPEC_EXAMPLE_LIST + "==", "base64url"),
        (SPEC_EXAMPLE_LIST.replace("-", "+"), "base64url"),
        ("u" + "A", "base64url"),
        (_u(b"not gzip at all"), "GZIP"),
        (_u(gzip.compress(bytes(16384), mtime=0)[:-12]), "truncated"),
        (_u(gzip.compress(bytes(16384), mtime=0) + b"trailing"), "after the GZIP"),
        (12345, "starting with 'u'"),
        (None, "starting with 'u'"),
    ],
)
def test_malformed_encoded_list_is_malformed_value_error(encoded, reason):
    with pytest.raises(MalformedValueError, match=reason) as caught:
        decode_list(encoded)
    assert caught.value.type_url == "https://www.w3.org/TR/vc-data-model-2.0/#MALFORMED_VALUE_ERROR"


@pytest.mark.parametrize("index", [-1, MIN_ENTRIES, 10**12])
def test_index_outside_the_bitstring_is_range_error(index):
    with pytest.raises(StatusRangeError):
        Bitstring.zeros().get(index)


@pytest.mark.parametrize("value", [2, -1, True, "1"])
def test_a_status_value_that_does_not_fit_the_status_size_is_refused(value):
    with pytest.raises(MalformedValueError):
        Bitstring.zeros().set(3, value)


@pytest.mark.parametrize("size", [0, 9, True, "1"])
def test_unsupported_status_size_is_malformed(size):
    with pytest.raises(MalformedValueError):
        Bitstring.zeros(status_size=size)
