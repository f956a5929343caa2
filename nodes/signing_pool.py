"""Who signs a batch of credentials: this process, or a pool of processes on every CPU for a whole roster.

Signing an ``eddsa-rdfc-2022`` credential is pure-Python work (the canonicalization, not Ed25519), so threads would
take turns on one interpreter lock; a pool of processes is what puts a second core to use. Issuing a roster of
100,000 members is the case (issue 3 asks for it in under a minute on two cores); a member's one or two credentials
are signed in-process, since starting workers costs more than it saves.

The workers are started with ``spawn``, never ``fork``: the node runs threads (uvicorn, the thread pool), and a
forked child would inherit their locks. Each worker gets the private key once, through the pipe to its parent when
it starts (never logged, never written anywhere), builds its own offline JSON-LD loader over the bundled contexts,
and returns signed documents; the database stays the parent's, so allocation, rows and audit keep their single
transaction per batch (:func:`nodes.issuance.issue`).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import datetime
from typing import Any, Protocol

from credentials import keys
from credentials.data_integrity import create_proof
from credentials.errors import CredentialError
from credentials.jsonld_loader import JsonLdLoader

POOL_THRESHOLD = 1_000
"""Credentials below which a pool is not worth starting (a worker takes about half a second to be ready)."""
MAX_WORKERS = 4
"""Beyond this, the parent's share (drawing indexes, recording rows, about half the cost of signing per credential)
is what limits a roster, and more workers would only hold memory."""


class Build(Protocol):
    """Builds the unsigned credential once its ``credentialStatus`` entries are known."""

    def __call__(self, *, credential_status: list[dict[str, str]]) -> dict[str, Any]: ...


Job = tuple[Build, list[dict[str, str]]]
Outcome = dict[str, Any] | CredentialError
"""A signed credential, or why this one cannot be issued (the others of its batch are not affected)."""


class Signing:
    """A batch being signed: :meth:`result` waits for its outcomes, in the order of its jobs."""

    def __init__(self, parts: list[Future[list[Outcome]]]) -> None:
        self._parts = parts

    def result(self) -> list[Outcome]:
        return [outcome for part in self._parts for outcome in part.result()]


class Signer(Protocol):
    def submit(self, jobs: Sequence[Job], created: datetime) -> Signing:
        """Start building and signing each job's credential with ``created`` as the proof time."""


class InProcessSigner:
    """Signs in the calling thread: one credential, a member's few, or when only one CPU is available."""

    def __init__(self, key: keys.SigningKey, verification_method: str, loader: JsonLdLoader) -> None:
        self.key, self.method, self.loader = key, verification_method, loader

    def submit(self, jobs: Sequence[Job], created: datetime) -> Signing:
        done: Future[list[Outcome]] = Future()
        done.set_result(self.sign(jobs, created))
        return Signing([done])

    def sign(self, jobs: Sequence[Job], created: datetime) -> list[Outcome]:
        return [self._one(build, entries, created) for build, entries in jobs]

    def _one(self, build: Build, entries: list[dict[str, str]], created: datetime) -> Outcome:
        try:
            return create_proof(build(credential_status=entries), key=self.key, verification_method=self.method,
                                loader=self.loader, clock=lambda: created)
        except CredentialError as exc:
            return exc


class PoolSigner:
    """Signs batches across worker processes (a context manager: the workers stop when it closes).

    Jobs must pickle: their builders are module-level functions bound with :func:`functools.partial`.
    """

    def __init__(self, key: keys.SigningKey, verification_method: str, workers: int) -> None:
        self.workers = workers
        self._pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker, initargs=(key.algorithm, key.private_pkcs8(), verification_method),
        )

    def submit(self, jobs: Sequence[Job], created: datetime) -> Signing:
        size = -(-len(jobs) // self.workers) or 1
        return Signing([self._pool.submit(_sign_chunk, list(jobs[start:start + size]), created)
                        for start in range(0, len(jobs), size)])

    def __enter__(self) -> PoolSigner:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def pool_size() -> int:
    """Signing workers for a roster: one per CPU this process may use, at most :data:`MAX_WORKERS`."""
    return min(_available_cpus(), MAX_WORKERS)


# --- in the worker process ----------------------------------------------------------------------------------------

_worker: InProcessSigner | None = None


def _start_worker(algorithm: keys.KeyAlgorithm, pkcs8: bytes, verification_method: str) -> None:
    global _worker
    _worker = InProcessSigner(keys.load_pkcs8(algorithm, pkcs8), verification_method, JsonLdLoader())
    threading.Thread(target=_exit_with_parent, name="exit-with-parent", daemon=True).start()


def _exit_with_parent() -> None:
    """End this worker when the node's process ends, however it ends.

    A worker waits for jobs on a queue it also holds the writing end of, so a parent killed outright (``kill -9``,
    the OOM killer) never gives it an end-of-file: it would wait forever, holding the private key in memory."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        parent.join()  # returns once the parent is gone (it waits on the parent's sentinel)
        os._exit(1)


def _sign_chunk(jobs: list[Job], created: datetime) -> list[Outcome]:
    if _worker is None:
        raise RuntimeError("signing worker used before it started")
    return _worker.sign(jobs, created)
