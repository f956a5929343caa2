"""Creating and verifying eddsa-rdfc-2022 proofs: every way a proof can be wrong (SECURITY V1, V3, V6-V10, V15)."""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from credentials import did_key, keys
from credentials.data_integrity import create_proof, verify_proof
from credentials.errors import (
    CanonicalizationLimitError,
    ContextNotAllowedError,
    InvalidChallengeError,
    InvalidDomainError,
    MalformedProofError,
    MismatchedProofPurposeError,
    ParsingError,
    ProofGenerationError,
    ProofVerificationError,
    UnsafeJsonLdError,
)
from credentials.jsonld_loader import JsonLdLoader
from credentials.verification_methods import VerificationMethod
from tests.credentials.di_support import (
    TEST_LOADER,
    VECTOR_CREATED,
    alumni_credential,
    fixed_clock,
    method_of,
    sign,
    vector_key,
)

V2 = "https://www.w3.org/ns/credentials/v2"


def verify(document: dict[str, Any], **options: Any) -> Any:
    options.setdefault("loader", TEST_LOADER)
    options.setdefault("resolve_key", did_key.resolve_verification_method)
    options.setdefault("clock", fixed_clock())
    return verify_proof(document, **options)


def signed_credential(**options: Any) -> dict[str, Any]:
    return sign(alumni_credential(), **options)


def with_proof(**changes: Any) -> dict[str, Any]:
    document = signed_credential()
    document["proof"].update(changes)
    return document


def test_signed_credential_verifies() -> None:
    result = verify(signed_credential())
    assert result.controller == did_key.did_key_for(vector_key())
    assert result.created == VECTOR_CREATED
    assert result.proof_purpose == "assertionMethod"


def test_proof_rejects_changed_value() -> None:
    document = signed_credential()
    document["credentialSubject"]["alumniOf"] = "The School of Counterfeits"
    with pytest.raises(ProofVerificationError) as caught:
        verify(document)
    assert caught.value.code == "PROOF_VERIFICATION_ERROR"


def test_proof_rejects_added_property() -> None:
    document = signed_credential()
    document["credentialSubject"]["honours"] = "summa cum laude"
    with pytest.raises(ProofVerificationError):
        verify(document)


def test_proof_rejects_changed_proof_option() -> None:
    with pytest.raises(ProofVerificationError):
        verify(with_proof(created="2023-02-24T23:36:39Z"))


def test_proof_rejects_context_swapped_for_an_unknown_one() -> None:
    document = signed_credential()
    document["@context"] = [V2, "https://evil.example/examples/v2"]
    with pytest.raises(ContextNotAllowedError):
        verify(document)


def test_undefined_term_cannot_be_added_unnoticed() -> None:
    # Without @vocab a new term would be dropped by JSON-LD and the signature would still match: refused.
    key = keys.generate("Ed25519")
    document = {
        "@context": [V2],
        "id": "urn:uuid:1",
        "type": ["VerifiableCredential"],
        "issuer": did_key.did_key_for(key),
        "credentialSubject": {"id": "did:example:s"},
    }
    signed = create_proof(
        document, key=key, verification_method=method_of(key), loader=JsonLdLoader(), clock=fixed_clock()
    )
    signed["credentialSubject"]["role"] = "admin"
    with pytest.raises(UnsafeJsonLdError):
        verify(signed, loader=JsonLdLoader())


def test_production_verifier_refuses_the_examples_context() -> None:
    with pytest.raises(ContextNotAllowedError):
        verify(signed_credential(), loader=JsonLdLoader())


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"type": "Ed25519Signature2020"}, ProofVerificationError),
        ({"cryptosuite": "eddsa-jcs-2022"}, ProofVerificationError),
        ({"cryptosuite": None}, ProofVerificationError),
        ({"proofValue": "u" + "A" * 86}, ProofVerificationError),
        ({"proofValue": "z" + "1" * 10}, ProofVerificationError),
        ({"proofValue": "z0OIl"}, ProofVerificationError),
        ({"verificationMethod": None}, MalformedProofError),
        ({"proofPurpose": None}, MalformedProofError),
        ({"proofValue": None}, MalformedProofError),
        ({"verificationMethod": 42}, MalformedProofError),
        ({"created": "yesterday"}, ProofVerificationError),
        ({"created": "2023-02-24 23:36:38"}, ProofVerificationError),
        ({"created": "2023-02-24T23:36:38"}, ProofVerificationError),
    ],
)
def test_malformed_proof_is_refused(changes: dict[str, Any], error: type[Exception]) -> None:
    document = signed_credential()
    for name, value in changes.items():
        if value is None:
            del document["proof"][name]
        else:
            document["proof"][name] = value
    with pytest.raises(error):
        verify(document)


def test_proof_value_of_63_or_65_bytes_is_refused() -> None:
    from credentials.multibase import decode_z, encode_z

    signature = decode_z(signed_credential()["proof"]["proofValue"])
    for value in (encode_z(signature[:63]), encode_z(signature + b"\0")):
        with pytest.raises(ProofVerificationError, match="64-byte"):
            verify(with_proof(proofValue=value))


@pytest.mark.parametrize("proof", ["z2YwC8z3", ["a", "list"], [{"type": "DataIntegrityProof"}], 7])
def test_proof_that_is_not_one_object_is_malformed(proof: Any) -> None:
    document = signed_credential()
    document["proof"] = proof
    with pytest.raises(MalformedProofError) as caught:
        verify(document)
    assert caught.value.code == "MALFORMED_PROOF_ERROR"


def test_document_without_proof_is_malformed() -> None:
    with pytest.raises(MalformedProofError):
        verify(alumni_credential())


def test_proof_purpose_other_than_expected_is_refused() -> None:
    document = sign(alumni_credential(), proof_purpose="authentication", challenge="c")
    with pytest.raises(MismatchedProofPurposeError) as caught:
        verify(document)
    assert caught.value.code == "MISMATCHED_PROOF_PURPOSE_ERROR"


def test_key_not_listed_for_the_purpose_is_refused() -> None:
    def resolver(method_id: str) -> VerificationMethod:
        method = did_key.resolve_verification_method(method_id)
        return method._replace(relationships=frozenset({"authentication"}))

    with pytest.raises(ProofVerificationError, match="not authorized"):
        verify(signed_credential(), resolve_key=resolver)


def test_key_of_another_controller_is_refused_for_this_issuer() -> None:
    # SECURITY V8: a valid proof by did:key:<attacker> on a credential claiming did:web:school.example.
    attacker = keys.generate("Ed25519")
    document = sign(alumni_credential(issuer="did:web:school.example"), key=attacker)
    verify(document)  # the signature itself is fine...
    with pytest.raises(ProofVerificationError, match="controller"):
        verify(document, expected_controller="did:web:school.example")


def test_unresolvable_key_is_a_verification_error() -> None:
    def resolver(method_id: str) -> VerificationMethod:
        raise ConnectionError("did:web host unreachable")

    with pytest.raises(ProofVerificationError, match="could not be resolved") as caught:
        verify(signed_credential(), resolve_key=resolver)
    assert isinstance(caught.value.__cause__, ConnectionError)


def test_key_of_another_did_key_is_refused() -> None:
    other = keys.generate("Ed25519")
    document = signed_credential()
    document["proof"]["verificationMethod"] = method_of(other)
    with pytest.raises(ProofVerificationError):
        verify(document)


def test_proof_created_in_the_future_is_refused() -> None:
    document = sign(alumni_credential(), clock=fixed_clock(VECTOR_CREATED + timedelta(minutes=6)))
    with pytest.raises(ProofVerificationError, match="future"):
        verify(document)


def test_proof_created_within_the_clock_skew_is_accepted() -> None:
    verify(sign(alumni_credential(), clock=fixed_clock(VECTOR_CREATED + timedelta(minutes=4))))


def test_expired_proof_is_refused() -> None:
    document = sign(alumni_credential(), expires=VECTOR_CREATED + timedelta(days=1))
    verify(document)
    with pytest.raises(ProofVerificationError, match="expired"):
        verify(document, clock=fixed_clock(VECTOR_CREATED + timedelta(days=1)))


def presentation(**options: Any) -> dict[str, Any]:
    holder = vector_key()
    document = {
        "@context": [V2],
        "type": ["VerifiablePresentation"],
        "holder": did_key.did_key_for(holder),
        "verifiableCredential": [signed_credential()],
    }
    options.setdefault("proof_purpose", "authentication")
    return sign(document, **options)


def test_presentation_with_matching_challenge_and_domain_verifies() -> None:
    document = presentation(challenge="nonce-1", domain="verifier.example")
    result = verify(document, expected_purpose="authentication", challenge="nonce-1", domain="verifier.example")
    assert result.proof_purpose == "authentication"


def test_presentation_with_wrong_challenge_is_refused() -> None:
    document = presentation(challenge="nonce-1", domain="verifier.example")
    with pytest.raises(InvalidChallengeError) as caught:
        verify(document, expected_purpose="authentication", challenge="nonce-2", domain="verifier.example")
    assert caught.value.code == "INVALID_CHALLENGE_ERROR"


def test_presentation_without_challenge_is_refused() -> None:
    document = presentation(domain="verifier.example")
    with pytest.raises(InvalidChallengeError):
        verify(document, expected_purpose="authentication", challenge="nonce-1")


def test_authentication_proof_cannot_be_verified_without_a_challenge() -> None:
    document = presentation(challenge="nonce-1")
    with pytest.raises(InvalidChallengeError):
        verify(document, expected_purpose="authentication")


def test_presentation_for_another_domain_is_refused() -> None:
    document = presentation(challenge="nonce-1", domain="verifier.example")
    with pytest.raises(InvalidDomainError) as caught:
        verify(document, expected_purpose="authentication", challenge="nonce-1", domain="evil.example")
    assert caught.value.code == "INVALID_DOMAIN_ERROR"


def test_presentation_domain_list_must_include_the_verifier() -> None:
    document = presentation(challenge="nonce-1", domain=["a.example", "verifier.example"])
    verify(document, expected_purpose="authentication", challenge="nonce-1", domain="verifier.example")
    with pytest.raises(InvalidDomainError):
        verify(document, expected_purpose="authentication", challenge="nonce-1", domain="b.example")


def test_changed_challenge_breaks_the_signature() -> None:
    document = presentation(challenge="nonce-1")
    document["proof"]["challenge"] = "nonce-2"
    with pytest.raises(ProofVerificationError):
        verify(document, expected_purpose="authentication", challenge="nonce-2")


def test_proof_with_its_own_context_prefix_verifies() -> None:
    document = signed_credential()
    document["proof"]["@context"] = copy.deepcopy(document["@context"])
    verify(document)


def test_proof_context_that_is_not_a_prefix_is_refused() -> None:
    document = signed_credential()
    document["proof"]["@context"] = ["https://www.w3.org/ns/credentials/examples/v2"]
    with pytest.raises(ProofVerificationError, match="prefix"):
        verify(document)


def test_credential_1_1_needs_the_data_integrity_context() -> None:
    credential = {
        "@context": ["https://www.w3.org/2018/credentials/v1"],
        "id": "urn:uuid:1",
        "type": ["VerifiableCredential"],
        "issuer": "did:example:issuer",
        "issuanceDate": "2023-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:subject"},
    }
    with pytest.raises(UnsafeJsonLdError, match="not defined"):
        sign(copy.deepcopy(credential))
    credential["@context"].append("https://w3id.org/security/data-integrity/v2")
    verify(sign(credential))


def test_create_refuses_a_document_that_already_has_a_proof() -> None:
    with pytest.raises(ProofGenerationError) as caught:
        sign(signed_credential())
    assert caught.value.code == "PROOF_GENERATION_ERROR"


def test_create_refuses_a_non_ed25519_key() -> None:
    key = keys.generate("ES256")
    with pytest.raises(ProofGenerationError):
        create_proof(
            alumni_credential(), key=key, verification_method="did:example:1#k", loader=TEST_LOADER, clock=fixed_clock()
        )


def test_create_refuses_a_naive_clock() -> None:
    with pytest.raises(ProofGenerationError, match="timezone"):
        sign(alumni_credential(), clock=lambda: datetime(2024, 1, 1))


def test_create_writes_created_in_utc_whole_seconds() -> None:
    paris = datetime(2024, 1, 1, 13, 30, 15, 987654, tzinfo=UTC).astimezone()
    document = sign(alumni_credential(), clock=fixed_clock(paris))
    assert document["proof"]["created"] == "2024-01-01T13:30:15Z"


def test_create_does_not_modify_its_input() -> None:
    credential = alumni_credential()
    original = copy.deepcopy(credential)
    sign(credential)
    assert credential == original


def poison_credential(size: int) -> dict[str, Any]:
    """A credential whose subject is a clique of blank nodes: tiny to send, exponential to canonicalize naively."""
    nodes = [{"id": f"_:e{n}", "knows": [{"id": f"_:e{m}"} for m in range(size)]} for n in range(size)]
    return alumni_credential(credentialSubject=nodes)


def test_poison_credential_is_refused_fast() -> None:
    start = time.perf_counter()
    with pytest.raises(CanonicalizationLimitError) as caught:
        verify(sign(alumni_credential()) | {"credentialSubject": poison_credential(10)["credentialSubject"]})
    assert time.perf_counter() - start < 1
    assert caught.value.code == "PARSING_ERROR"
    with pytest.raises(CanonicalizationLimitError):
        sign(poison_credential(10))


def test_malformed_proof_is_refused_before_any_canonicalization(monkeypatch: pytest.MonkeyPatch) -> None:
    from credentials.data_integrity import eddsa_rdfc_2022

    def must_not_run(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("canonicalized a document whose proof was malformed")

    document = with_proof(proofValue="zshort")
    monkeypatch.setattr(eddsa_rdfc_2022, "canonize", must_not_run)
    with pytest.raises(ProofVerificationError):
        verify(document)


def test_every_failure_is_a_credential_error_with_a_code() -> None:
    for error in (ParsingError, ProofVerificationError, MalformedProofError, InvalidChallengeError):
        assert error("x").code and error("x").status == 400


def test_document_without_context_is_refused_on_both_sides() -> None:
    credential = alumni_credential()
    del credential["@context"]
    with pytest.raises(ProofGenerationError, match="@context"):
        sign(credential)
    signed = signed_credential()
    del signed["@context"]
    with pytest.raises(ParsingError, match="@context"):
        verify(signed)


def test_verifier_clock_must_be_timezone_aware() -> None:
    with pytest.raises(TypeError):
        verify(signed_credential(), clock=lambda: datetime(2024, 1, 1))
