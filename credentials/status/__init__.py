"""Credential status: Bitstring Status List 1.0 (https://www.w3.org/TR/vc-bitstring-status-list/).

Pure: no network, no database. The issuer side builds entries, allocates random indexes and builds unsigned list
credentials; the verifier side decodes lists and checks an entry's status with the spec's typed errors.
"""

from credentials.status.allocation import allocate_index, allocate_indexes
from credentials.status.bitstring import (
    MAX_LIST_BYTES,
    MIN_ENTRIES,
    Bitstring,
    decode_bitstring,
    decode_list,
    encode_list,
)
from credentials.status.check import StatusResult, check_credential_status, check_status
from credentials.status.documents import (
    StatusEntry,
    StatusMessage,
    parse_entry,
    status_list_credential,
    status_list_entry,
)
from credentials.status.errors import (
    MalformedValueError,
    StatusError,
    StatusListFullError,
    StatusListLengthError,
    StatusRangeError,
    StatusRetrievalError,
    StatusVerificationError,
)

__all__ = [
    "MAX_LIST_BYTES",
    "MIN_ENTRIES",
    "Bitstring",
    "MalformedValueError",
    "StatusEntry",
    "StatusError",
    "StatusListFullError",
    "StatusListLengthError",
    "StatusMessage",
    "StatusRangeError",
    "StatusResult",
    "StatusRetrievalError",
    "StatusVerificationError",
    "allocate_index",
    "allocate_indexes",
    "check_credential_status",
    "check_status",
    "decode_bitstring",
    "decode_list",
    "encode_list",
    "parse_entry",
    "status_list_credential",
    "status_list_entry",
]
