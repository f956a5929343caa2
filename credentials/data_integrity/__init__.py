"""Data Integrity proofs with the ``eddsa-rdfc-2022`` cryptosuite.

Public surface: :func:`create_proof`, :func:`verify_proof` and :class:`VerifiedProof`; the cryptosuite's steps
(:mod:`credentials.data_integrity.eddsa_rdfc_2022`) are exposed for test vectors. Specs:
https://www.w3.org/TR/vc-data-integrity/ and https://www.w3.org/TR/vc-di-eddsa/ .
"""

from credentials.data_integrity.eddsa_rdfc_2022 import HashData, hash_data
from credentials.data_integrity.proofs import PROOF_TYPE, Clock, VerifiedProof, create_proof, verify_proof

__all__ = ["PROOF_TYPE", "Clock", "HashData", "VerifiedProof", "create_proof", "hash_data", "verify_proof"]
