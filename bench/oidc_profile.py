"""Where the server's time goes during a measurement: py-spy samples it, and the stacks are summarised here.

py-spy (``pip install py-spy``; a development tool, not a dependency) attaches to the server process for the
measurement and writes collapsed stacks (``frame;frame;... count``), every thread included, idle ones excluded.
Two views are printed: by component (the innermost frame's library: where the CPU actually burns), and the
Passerelle functions that take the most time including what they call.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

COMPONENTS = (  # (name, path fragments), first match wins; the innermost frame decides
    ("argon2id password check", ("argon2",)),
    ("SQLite driver", ("sqlite3",)),
    ("PostgreSQL driver (psycopg)", ("psycopg",)),
    ("SQLAlchemy / SQLModel", ("sqlalchemy", "sqlmodel")),
    ("signatures (cryptography, JOSE)", ("cryptography", "(credentials/", "joserfc")),
    ("authlib", ("authlib",)),
    ("Jinja2 templates", ("jinja2", "markupsafe")),
    ("FastAPI / Starlette / pydantic", ("fastapi", "starlette", "pydantic", "multipart")),
    ("uvicorn / h11 / asyncio", ("uvicorn", "h11", "asyncio", "selectors")),
    ("thread pool hand-off (anyio, threading)", ("anyio", "threading.py", "concurrent")),
    ("Passerelle (nodes, federation)", ("(nodes/", "(federation/")),
    ("logging and metrics", ("logging", "prometheus", "pythonjsonlogger")),
    ("json", ("json",)),
)
PROJECT = ("nodes/", "federation/", "credentials/")
#: Innermost frames where a thread waits rather than works (py-spy's idle detection misses some of them).
WAITS = ("Condition.wait", "EpollSelector.select", "Event.wait", "Semaphore.acquire", "_wait_for_tstate_lock",
         "Queue.get", "Thread.join")


def _py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


@contextlib.contextmanager
def profiled(folder: Path | None, pid: int, name: str, seconds: float, cpus: set[int]) -> Iterator[None]:
    """Sample ``pid`` with py-spy while the block runs; print the summary after it (nothing when ``folder`` is None)."""
    tool = _py_spy() if folder is not None else None
    if folder is None or tool is None:
        if folder is not None:
            print("  (py-spy not found: no profile; pip install py-spy)")
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    output = folder / f"{name}.txt"
    command = [tool, "record", "--pid", str(pid), "--duration", str(int(seconds) + 2), "--rate", "200",
               "--format", "raw", "--output", str(output), "--nonblocking", "--gil"]
    recorder = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                preexec_fn=lambda: os.sched_setaffinity(0, cpus) if cpus else None)  # noqa: PLW1509
    try:
        yield
    finally:
        recorder.wait(timeout=seconds + 60)
        if output.exists():
            print(summarise(output, name))


def summarise(path: Path, name: str, top: int = 12) -> str:
    by_component: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        if frames[-1].startswith(WAITS):
            continue
        total += count
        by_component[_component(frames[-1])] += count
        for function in {_short(f) for f in frames if _in_project(f)}:
            by_function[function] += count
    if not total:
        return f"  profile {name}: no samples"
    lines = [f"  profile {name} ({total} samples of working server threads; {path}):", "    by component (self):"]
    lines += [f"      {share * 100 / total:5.1f} %  {component}" for component, share in by_component.most_common()]
    lines.append("    Passerelle functions (inclusive):")
    lines += [f"      {share * 100 / total:5.1f} %  {function}" for function, share in by_function.most_common(top)]
    return "\n".join(lines)


def _component(frame: str) -> str:
    for component, fragments in COMPONENTS:
        if any(fragment in frame for fragment in fragments):
            return component
    return "other (stdlib, interpreter)"


def _in_project(frame: str) -> bool:
    where = frame.partition(" (")[2]
    return where.startswith(PROJECT) and not where.startswith("nodes/cli.py")  # cli.py: the main thread itself


def _short(frame: str) -> str:
    """``function (nodes/oidc/store.py:42)`` → ``nodes/oidc/store.py:function``."""
    function, _, where = frame.partition(" (")
    return f"{where.split(':')[0]}:{function}"
