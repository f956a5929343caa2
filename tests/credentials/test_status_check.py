"""Status entries, status list credentials and the Validate Algorithm (SECURITY S1 to S4, S6, S8)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from credentials import keys
from credentials.status import (
    MIN_ENTRIES,
    Bitstring,
    MalformedValueError,
    StatusError,
    StatusListFullError,
    StatusListLengthError,
    StatusRangeError,
    StatusRetrievalError,
    StatusVerificationError,
    allocate_index,
    allocate_indexes,
    check_credential_status,
    check_status,
    encode_list,
    parse_entry,
    status_list_credential,
    status_list_entry,
)

ISSUER = "did:web:school.example"
LIST_URL = "https://school.example/status/revocation/1"
SUSPENSION_URL = "https://school.example/status/suspension/1"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _list(url=LIST_URL, purpose="revocation", revoked=(), issuer=ISSUER, **kwargs):
    bits = Bitstring.zeros()
    for index in revoked:
        bits.set(index, 1)
    return status_list_credential(list_id=url, issuer=issuer, purpose=purpose, bitstring=bits, valid_from=NOW,
                                  **kwargs)


def _entry(index=94567, purpose="revocation", url=LIST_URL):
    return status_list_entry(list_credential=url, index=index, purpose=purpose)


class SignedLists:
    """Serves status list credentials with a detached Ed25519 signature over their JSON.

    ``check_credential_status`` takes the list verifier as an argument; this real signature check stands in for
    the Data Integrity proof (tested on its own), so that a tampered list fails for a real cryptographic reason.
    """

    def __init__(self):
        self.key = keys.generate("Ed25519")
        self.public = keys.public_key_from_multikey(self.key.public_multikey())
        self.served: dict[str, tuple[dict, bytes]] = {}
        self.requests: list[str] = []

    def publish(self, credential):
        self.served[credential["id"]] = (credential, self.key.sign(_canonical(credential)))

    def retrieve(self, url):
        self.requests.append(url)
        if url not in self.served:
            raise LookupError("404 Not Found")
        return json.loads(json.dumps(self.served[url][0]))

    def verify(self, credential):
        self.public.verify(self.served[credential["id"]][1], _canonical(credential))


def _canonical(document) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def _credential(*entries, issuer=ISSUER):
    return {"issuer": issuer, "credentialStatus": list(entries)}


# --- building -----------------------------------------------------------------------------------------------


def test_status_list_credential_has_the_shape_of_section_2_2():
    credential = _list(ttl_ms=300_000, valid_until=NOW + timedelta(days=1))
    assert credential["@context"] == ["https://www.w3.org/ns/credentials/v2"]
    assert credential["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert credential["validFrom"] == "2025-03-01T12:00:00Z"
    assert credential["validUntil"] == "2025-03-02T12:00:00Z"
    subject = credential["credentialSubject"]
    assert subject["id"] == LIST_URL + "#list" and subject["type"] == "BitstringStatusList"
    assert subject["statusPurpose"] == "revocation" and subject["ttl"] == 300_000
    assert subject["encodedList"].startswith("u")


def test_status_list_entry_has_the_shape_of_section_2_1_with_a_string_index():
    entry = _entry(index=7)
    assert entry == {
        "id": LIST_URL + "#7",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "7",
        "statusListCredential": LIST_URL,
    }


@pytest.mark.parametrize("purpose", ["message", "refresh", "", None])
def test_only_revocation_and_suspension_lists_are_issued(purpose):
    with pytest.raises(MalformedValueError):
        _entry(purpose=purpose)
    with pytest.raises(MalformedValueError):
        _list(purpose=purpose)


def test_s6_an_entry_whose_id_is_the_status_list_url_is_not_built():
    with pytest.raises(MalformedValueError, match="must not be the status list"):
        status_list_entry(list_credential=LIST_URL, index=3, purpose="revocation", entry_id=LIST_URL)


def test_status_list_times_must_be_timezone_aware_and_ttl_positive():
    with pytest.raises(MalformedValueError):
        status_list_credential(list_id=LIST_URL, issuer=ISSUER, purpose="revocation", bitstring=Bitstring.zeros(),
                               valid_from=datetime(2025, 1, 1))
    with pytest.raises(MalformedValueError):
        _list(ttl_ms=0)
    with pytest.raises(MalformedValueError):
        _list(valid_until=NOW)


# --- parsing entries (S1, S6) -------------------------------------------------------------------------------


@pytest.mark.parametrize("index", ["abc", True, False, -1, "-1", 5, 5.0, "1.0", " 1", "01", "+1", "١٢", "", None])
def test_s1_malformed_status_list_index_is_malformed_value_error(index):
    entry = {**_entry(), "statusListIndex": index}
    with pytest.raises(MalformedValueError) as caught:
        parse_entry(entry)
    assert caught.value.code == "MALFORMED_VALUE_ERROR"


@pytest.mark.parametrize("index", [str(MIN_ENTRIES), "999999999", "9" * 40])
def test_s1_status_list_index_past_the_end_of_the_list_is_range_error(index):
    with pytest.raises(StatusRangeError) as caught:
        check_status({**_entry(), "statusListIndex": index}, _list())
    assert caught.value.type_url == "https://www.w3.org/TR/vc-data-model-2.0/#RANGE_ERROR"


def test_s6_an_entry_whose_id_equals_status_list_credential_is_malformed():
    with pytest.raises(MalformedValueError, match="must not be the status list"):
        parse_entry({**_entry(), "id": LIST_URL})


@pytest.mark.parametrize(
    "change",
    [
        {"type": "StatusList2021Entry"},
        {"statusPurpose": ""},
        {"statusPurpose": ["revocation"]},
        {"statusListCredential": "not a url"},
        {"statusListCredential": None},
        {"statusSize": 0},
        {"statusSize": "1"},
        {"statusSize": 2},
        {"statusSize": 1, "statusMessage": [{"status": "0x0", "message": "ok"}]},
    ],
)
def test_malformed_status_entry_is_malformed_value_error(change):
    with pytest.raises(MalformedValueError):
        parse_entry({**_entry(), **change})


def test_status_messages_name_the_status_of_a_two_bit_entry():
    messages = [{"status": f"0x{i}", "message": m} for i, m in enumerate(["ok", "review", "rejected", "undefined"])]
    bits = Bitstring.zeros(status_size=2)
    bits.set(11, 2)
    credential = status_list_credential(list_id=LIST_URL, issuer=ISSUER, purpose="revocation", bitstring=bits,
                                        valid_from=NOW)
    credential["credentialSubject"]["statusPurpose"] = "message"
    entry = {**_entry(index=11), "statusPurpose": "message", "statusSize": 2, "statusMessage": messages}
    result = check_status(entry, credential)
    assert (result.status, result.valid, result.message) == (2, False, "rejected")


# --- checking (S2, S3, S4, S6) ------------------------------------------------------------------------------


def test_unrevoked_entry_is_valid_and_revoked_entry_is_not():
    assert check_status(_entry(index=5), _list(revoked=[6])).valid is True
    result = check_status(_entry(index=6), _list(revoked=[6]))
    assert (result.valid, result.status, result.purpose, result.message) == (False, 1, "revocation", "set")


def test_suspension_can_be_lifted_by_clearing_its_bit():
    suspended = _list(url=SUSPENSION_URL, purpose="suspension", revoked=[9])
    entry = _entry(index=9, purpose="suspension", url=SUSPENSION_URL)
    assert check_status(entry, suspended).valid is False
    assert check_status(entry, _list(url=SUSPENSION_URL, purpose="suspension")).valid is True


def test_s3_revocation_entry_against_a_suspension_list_is_status_verification_error():
    suspension_list = _list(url=LIST_URL, purpose="suspension")
    with pytest.raises(StatusVerificationError, match="purpose") as caught:
        check_status(_entry(purpose="revocation"), suspension_list)
    assert caught.value.type_url == "https://www.w3.org/ns/credentials/status-list#STATUS_VERIFICATION_ERROR"


def test_a_list_with_several_purposes_serves_each_of_them():
    credential = _list(revoked=[3])
    credential["credentialSubject"]["statusPurpose"] = ["suspension", "revocation"]
    assert check_status(_entry(index=3), credential).valid is False


def test_s4_list_shorter_than_131072_entries_is_status_list_length_error():
    credential = _list()
    credential["credentialSubject"]["encodedList"] = encode_list(bytes(1024))
    with pytest.raises(StatusListLengthError):
        check_status(_entry(index=3), credential)


def test_a_credential_that_is_not_a_status_list_is_refused():
    credential = _list()
    credential["type"] = ["VerifiableCredential"]
    with pytest.raises(StatusVerificationError):
        check_status(_entry(), credential)


def test_a_list_published_under_another_url_than_the_entry_names_is_refused():
    with pytest.raises(StatusVerificationError, match="id"):
        check_status(_entry(), _list(url="https://school.example/status/revocation/2"))


def test_the_whole_algorithm_reports_revocation_and_suspension_separately():
    lists = SignedLists()
    lists.publish(_list(revoked=[10]))
    lists.publish(_list(url=SUSPENSION_URL, purpose="suspension"))
    credential = _credential(_entry(index=10), _entry(index=10, purpose="suspension", url=SUSPENSION_URL))
    results = check_credential_status(credential, retrieve=lists.retrieve, verify_list=lists.verify)
    assert [(r.purpose, r.valid) for r in results] == [("revocation", False), ("suspension", True)]


def test_a_list_named_by_several_entries_is_retrieved_once():
    lists = SignedLists()
    lists.publish(_list())
    check_credential_status(_credential(_entry(index=1), _entry(index=2)), retrieve=lists.retrieve,
                            verify_list=lists.verify)
    assert lists.requests == [LIST_URL]


def test_a_credential_without_status_has_no_status_results():
    assert check_credential_status({"issuer": ISSUER}, retrieve=_unreachable, verify_list=_unreachable) == []


def test_s2_retrieval_failure_is_status_retrieval_error_never_valid():
    lists = SignedLists()
    with pytest.raises(StatusRetrievalError, match="could not be retrieved") as caught:
        check_credential_status(_credential(_entry()), retrieve=lists.retrieve, verify_list=lists.verify)
    assert caught.value.type_url == "https://www.w3.org/ns/credentials/status-list#STATUS_RETRIEVAL_ERROR"


def test_s2_status_list_with_a_bad_signature_is_status_verification_error():
    lists = SignedLists()
    lists.publish(_list(revoked=[10]))
    tampered = lists.served[LIST_URL][0]
    tampered["credentialSubject"]["encodedList"] = Bitstring.zeros().encode()  # un-revoke, keep the old signature
    with pytest.raises(StatusVerificationError, match="did not verify"):
        check_credential_status(_credential(_entry(index=10)), retrieve=lists.retrieve, verify_list=lists.verify)


def test_s6_status_list_issued_by_someone_else_is_refused_unless_trusted():
    lists = SignedLists()
    lists.publish(_list(issuer="did:web:attacker.example"))
    credential = _credential(_entry(index=4))
    with pytest.raises(StatusVerificationError, match="issuer"):
        check_credential_status(credential, retrieve=lists.retrieve, verify_list=lists.verify)
    results = check_credential_status(credential, retrieve=lists.retrieve, verify_list=lists.verify,
                                      is_trusted_list_issuer=lambda issuer: issuer == "did:web:attacker.example")
    assert results[0].valid is True


def test_issuer_given_as_an_object_is_matched_by_its_id():
    lists = SignedLists()
    lists.publish(_list())
    results = check_credential_status(_credential(_entry(), issuer={"id": ISSUER, "name": "École"}),
                                      retrieve=lists.retrieve, verify_list=lists.verify)
    assert results[0].valid is True


def test_every_status_failure_is_a_status_error_with_a_readable_reason():
    for error in (StatusRetrievalError("x"), StatusVerificationError("x"), StatusListLengthError("x"),
                  StatusRangeError("x"), MalformedValueError("x")):
        assert isinstance(error, StatusError) and error.title and error.type_url.endswith(error.code)


def _unreachable(*_args):
    raise AssertionError("must not be called")


# --- allocation (S8) ----------------------------------------------------------------------------------------


def test_s8_indexes_are_random_not_sequential():
    rng = random.Random(20250301)
    taken: set[int] = set()
    for _ in range(500):
        taken.add(allocate_index(taken.__contains__, below=rng.randrange))
    drawn = sorted(taken)
    assert len(drawn) == 500
    assert drawn[-1] - drawn[0] > MIN_ENTRIES // 2, "indexes spread over the whole list"
    assert sum(1 for a, b in zip(drawn, drawn[1:], strict=False) if b == a + 1) < 10, "not a sequence"


def test_allocation_never_returns_an_index_already_used():
    rng = random.Random(7)
    first = [rng.randrange(MIN_ENTRIES) for _ in range(3)]
    used = set(first)
    index = allocate_index(used.__contains__, below=random.Random(7).randrange)
    assert index not in used


def test_a_list_with_no_free_index_raises_status_list_full():
    with pytest.raises(StatusListFullError):
        allocate_index(lambda _index: True, below=random.Random(1).randrange)


def test_bulk_allocation_returns_distinct_free_indexes():
    used = set(range(0, MIN_ENTRIES, 3))
    indexes = allocate_indexes(20_000, used.__contains__, used_count=len(used), below=random.Random(3).randrange)
    assert len(set(indexes)) == 20_000 and not used.intersection(indexes)
    assert indexes != sorted(indexes)


def test_bulk_allocation_refuses_to_fill_a_list_beyond_half():
    with pytest.raises(StatusListFullError):
        allocate_indexes(MIN_ENTRIES // 2 + 1, lambda _i: False)
    with pytest.raises(StatusListFullError):
        allocate_indexes(10, lambda _i: False, used_count=MIN_ENTRIES // 2 - 5)


def test_a_random_source_out_of_range_is_refused():
    with pytest.raises(ValueError):
        allocate_index(lambda _i: False, below=lambda n: n)
