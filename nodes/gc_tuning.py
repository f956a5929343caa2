"""The garbage collector of a serving process, set for a heap that is mostly built at start-up.

CPython's cyclic collector runs a pass over the youngest objects every 700 allocations that outlive their
statement, and now and then a full pass over every tracked object in the process. A started node holds some
140,000 of them (modules, SQLAlchemy's metadata, the JSON-LD contexts and JSON schemas, the templates), none of
which will ever be garbage; a full pass over them holds the event loop for tens of milliseconds, every request
in flight waiting. Under load that was the latency tail: 3-5 % of UserInfo answers on PostgreSQL took 100-150 ms
instead of about 20, and throughput fell by a fifth (bench/oidc.py, 64 clients on one core).

Two standard settings for long-running servers fix it:

* :func:`gc.freeze` once the app is built: what is alive then moves to a permanent generation that collections
  skip (it is still freed by reference counting if it ever goes);
* a threshold of 10,000 for the youngest generation instead of 700: a request allocates a few thousand objects
  that die with it, and a pass every few requests rather than several per request finds the same cycles.

Only serving processes call this (``passerelle serve``, its workers, ``./run demo``): the test suite builds many
nodes in one process and keeps the interpreter's defaults.
"""

from __future__ import annotations

import gc

#: Allocations (net of deallocations) between two passes over the youngest generation.
YOUNG_THRESHOLD = 10_000


def settle_after_startup() -> None:
    """Collect what start-up left behind, freeze the rest, and make young collections rarer."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
