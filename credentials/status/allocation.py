"""Random, never-reused status list indexes (Bitstring Status List 1.0 §2.1 ``statusListIndex``).

The spec says indexes SHOULD be assigned randomly "such that inferences — such as the recency of the assignment
or the size of the group — cannot be easily drawn from that position". These helpers draw uniformly among the free
indexes of a list. They know nothing of storage: the caller passes ``used`` (is this index taken?) and must still
record the allocation under a uniqueness constraint in the same transaction as the credential, because another
worker may draw the same number between the check and the insert.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from credentials.status.bitstring import MIN_ENTRIES
from credentials.status.errors import StatusListFullError

RandomBelow = Callable[[int], int]
"""``below(n)`` returns a uniformly random integer in ``[0, n)``; :func:`secrets.randbelow` by default."""

IsUsed = Callable[[int], bool]
"""``used(index)`` tells whether ``index`` is already allocated in the list."""

MAX_FILL = 0.5
"""Above this share of used indexes, a list counts as full: random draws get slow and the herd thins out."""


def allocate_index(
    used: IsUsed,
    *,
    entries: int = MIN_ENTRIES,
    below: RandomBelow = secrets.randbelow,
    max_attempts: int = 64,
) -> int:
    """One free index of a list of ``entries``, drawn at random; :class:`StatusListFullError` after ``max_attempts``.

    With a list at most :data:`MAX_FILL` full, 64 draws all landing on used indexes has probability below 2**-64.
    """
    _check_entries(entries)
    for _ in range(max_attempts):
        index = _draw(below, entries)
        if not used(index):
            return index
    raise StatusListFullError(f"no free index found in {max_attempts} random draws; open a new status list")


def allocate_indexes(
    count: int,
    used: IsUsed,
    *,
    entries: int = MIN_ENTRIES,
    used_count: int = 0,
    below: RandomBelow = secrets.randbelow,
    max_fill: float = MAX_FILL,
) -> list[int]:
    """``count`` distinct free indexes in random order, for bulk issuance into one list.

    ``used_count`` is how many indexes the list already holds; the request is refused with
    :class:`StatusListFullError` when it would fill the list beyond ``max_fill``, so that the caller opens a
    new list instead of slowing down or shrinking the herd.
    """
    _check_entries(entries)
    if count < 0:
        raise ValueError("count must not be negative")
    if used_count + count > int(entries * max_fill):
        raise StatusListFullError(
            f"{count} more indexes would fill the list beyond {max_fill:.0%}; open a new status list"
        )
    chosen: dict[int, None] = {}
    attempts = 0
    while len(chosen) < count:
        attempts += 1
        if attempts > 64 + 8 * count:
            raise StatusListFullError("random draws keep landing on used indexes; open a new status list")
        index = _draw(below, entries)
        if index not in chosen and not used(index):
            chosen[index] = None
    return list(chosen)


def _draw(below: RandomBelow, entries: int) -> int:
    index = below(entries)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < entries:
        raise ValueError("the random source returned a value outside [0, entries)")
    return index


def _check_entries(entries: int) -> None:
    if entries < MIN_ENTRIES:
        raise ValueError(f"a status list holds at least {MIN_ENTRIES} entries")
