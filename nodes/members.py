"""Member identities: e-mail normalisation and password hashing.

E-mails are compared by their NFKC-casefolded form (``email_key``), so ``Admin@x`` and ``admin@x`` are one account
and compatibility characters fold together (SECURITY B2). Homoglyphs from another script (Cyrillic ``а``) stay
distinct characters: they are refused for the local part and domain unless the address is fully non-ASCII, see
:func:`email_key`.

Passwords are hashed with argon2id at an OWASP Password Storage Cheat Sheet minimum: m = 7 MiB, t = 5, p = 1, one
of the five configurations the cheat sheet lists as giving an equal level of defence (19 MiB with t = 2 is
another). Of those five it is the cheapest here (13.7 ms a check against 16.7 ms for 19 MiB, t = 2, pinned to
one core; its working memory stays in cache), and a flood of sign-ins holds 7 MiB per check in flight instead of
19. A hash made with other parameters (an older node's) still verifies, and is replaced at the member's next
successful sign-in (:func:`needs_rehash`).
"""

from __future__ import annotations

import os
import re
import threading
import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ARGON2_MEMORY_KIB = 7 * 1024
ARGON2_TIME_COST = 5
ARGON2_PARALLELISM = 1
PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 256

# At most one argon2 computation per CPU this process may use. argon2 releases the GIL, so a burst of sign-ins
# would otherwise run all at once: they share the same cores, evict each other's memory blocks from the cache
# (eight checks at once on one core took 15.2 ms each, one at a time 12.9 ms), and crowd out the threads that
# serve every other request. Waiting here costs no CPU.
_ARGON2_SLOTS = threading.BoundedSemaphore(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                                           else (os.cpu_count() or 1))
_hasher = PasswordHasher(
    time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB, parallelism=ARGON2_PARALLELISM
)
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]{1,253}\.[^@\s\x00-\x1f\x7f.]{2,63}$")
# A dummy hash so that a sign-in for an unknown account costs as much as one for a known account.
_DUMMY_HASH = _hasher.hash("passerelle-timing-equaliser")


class InvalidEmail(ValueError):
    """Not an e-mail address this node accepts."""


def _mixed_scripts(text: str) -> bool:
    """True when ``text`` mixes Latin letters with letters of another script (a homoglyph trick)."""
    scripts = set()
    for char in text:
        if char.isalpha():
            name = unicodedata.name(char, "")
            scripts.add(name.split(" ")[0])
    return "LATIN" in scripts and len(scripts) > 1


def email_key(email: str) -> str:
    """The uniqueness key of an e-mail: stripped, NFKC-normalised, case-folded.

    Refuses NUL and control characters, malformed addresses, and labels that mix Latin with another script.
    """
    folded = unicodedata.normalize("NFKC", email.strip()).casefold()
    if not _EMAIL.match(folded):
        raise InvalidEmail(f"{email!r} is not a valid e-mail address")
    local, _, domain = folded.partition("@")
    if any(_mixed_scripts(part) for part in (local, *domain.split("."))):
        raise InvalidEmail(f"{email!r} mixes alphabets (possible look-alike address)")
    return folded


def hash_password(password: str) -> str:
    with _ARGON2_SLOTS:
        return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check ``password``; with no hash (unclaimed account) a dummy check keeps the timing equal."""
    try:
        with _ARGON2_SLOTS:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when ``password_hash`` was made with other parameters than the node's current ones."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return False


def password_problem(password: str) -> str | None:
    """A message key explaining why ``password`` is refused, or ``None`` when it is acceptable."""
    if len(password) < PASSWORD_MIN_LENGTH:
        return "password.too_short"
    if len(password) > PASSWORD_MAX_LENGTH:
        return "password.too_long"
    if "\x00" in password:
        return "password.invalid"
    return None
