"""Typed errors of Bitstring Status List 1.0, each carrying the wire ``type`` URL the spec assigns to it.

Spec: https://www.w3.org/TR/vc-bitstring-status-list/#processing-errors (status-list errors) and
https://www.w3.org/TR/vc-data-model-2.0/#processing-errors (``RANGE_ERROR``, ``MALFORMED_VALUE_ERROR``).
A caller that reports a status check turns :attr:`StatusError.type_url` into a problem+json ``type``; a
verifier treats every one of these as "status unknown", never as "valid".
"""

from __future__ import annotations

from typing import ClassVar

from credentials import errors

STATUS_LIST_ERRORS = "https://www.w3.org/ns/credentials/status-list#"
VC_DATA_MODEL_ERRORS = "https://www.w3.org/TR/vc-data-model-2.0/#"


class StatusError(errors.CredentialError):
    """Base of every status-list error; ``str(error)`` is a reason a person can read (no secrets, no stack).

    A :class:`credentials.errors.CredentialError`, so the edge maps it like every other credential failure.
    """

    code: ClassVar[str] = "STATUS_VERIFICATION_ERROR"
    base: ClassVar[str] = STATUS_LIST_ERRORS
    title: ClassVar[str] = "Status check failed"

    @property
    def type_url(self) -> str:
        return self.base + self.code


class StatusRetrievalError(StatusError):
    """STATUS_RETRIEVAL_ERROR: "Retrieval of the status list failed." (§3.2 step 4)."""

    code = "STATUS_RETRIEVAL_ERROR"
    title = "The status list could not be retrieved"


class StatusVerificationError(StatusError):
    """STATUS_VERIFICATION_ERROR: "Validation of the status entry failed." (§3.2 steps 4 and 5)."""

    code = "STATUS_VERIFICATION_ERROR"
    title = "The status list or the status entry did not validate"


class StatusListLengthError(StatusError):
    """STATUS_LIST_LENGTH_ERROR: "The status list length does not satisfy the minimum length required for herd
    privacy." (§3.2 step 9)."""

    code = "STATUS_LIST_LENGTH_ERROR"
    title = "The status list is too short"


class StatusRangeError(StatusError):
    """RANGE_ERROR (VC Data Model 2.0): the index times the status size falls outside the bitstring (§3.2 step 10)."""

    code = "RANGE_ERROR"
    base = VC_DATA_MODEL_ERRORS
    title = "The status index is outside the status list"


class MalformedValueError(StatusError, errors.MalformedValueError):
    """MALFORMED_VALUE_ERROR (VC Data Model 2.0): a property that breaks one of the data model's MUSTs (§3)."""

    code = "MALFORMED_VALUE_ERROR"
    base = VC_DATA_MODEL_ERRORS
    title = "A status property is malformed"


class StatusListFullError(Exception):
    """No free index could be found in a status list: the issuer must open a new list (not a wire error)."""
