"""Runs the policy variants of a scenario: in-process, on a local process pool, or on a Ray cluster.

Every variant runs with one torch thread, whatever the executor, so a variant's numbers do not depend on
how many run side by side (same scenario + seed = identical tables with any ``workers``).

    World (built once) --fork--> worker 1: run_variant(world, spec_a) --rows--> main: tables in spec order
                        \\-----> worker 2: run_variant(world, spec_b) --rows--/
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from typing import Any

import torch

from simnet.config import PolicySpec
from simnet.errors import ConfigError
from simnet.sim.engine import run_variant
from simnet.sim.world import World

ProgressFactory = Callable[[PolicySpec], Callable[[float], None]]

_WORLDS: tuple[World, ...] = ()  # per variant, set in the parent before forking; workers inherit them unpickled
_QUEUE: Any = None


@contextmanager
def one_thread() -> Iterator[None]:
    """Run the block with one torch thread (results do not depend on how many run side by side)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_one(world: World, spec: PolicySpec, progress: Callable[[float], None] | None = None) -> dict[str, Any]:
    """Run one variant with one torch thread."""
    with one_thread():
        return run_variant(world, spec, progress)


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent(parent_pid: int) -> None:
    """Worker initializer: the worker ends when its parent does, however the parent ends (SIGKILL included).

    Linux: the kernel sends SIGKILL on the parent's death (``prctl(PR_SET_PDEATHSIG)``; it fires when the
    forking *thread* ends, and a fork-context pool forks every worker from the thread of its first
    ``submit``, here the main one). Elsewhere a daemon
    thread polls the parent pid once a second. Ctrl-C reaches the whole process group: workers ignore it and
    the parent, which decides what happens, stops them; SIGTERM (inherited from the parent's handler) gets
    its default action back so that stopping a worker stops it.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    armed = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)  # the running process: libc is linked in
            armed = libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
    if not armed:
        threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True, name="simnet-parent-watch").start()
    if os.getppid() != parent_pid:  # the parent died before the death signal was armed
        os._exit(1)


def _watch_parent(parent_pid: int, period_s: float = 1.0) -> None:
    """Exit this process as soon as its parent is gone (it is re-parented, so ``getppid`` changes)."""
    while os.getppid() == parent_pid:
        time.sleep(period_s)
    os._exit(1)


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and end the running workers now (shutdown alone waits for them)."""
    # Python < 3.14 has no public terminate_workers(); the pool's own process table is the only handle
    handles = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in handles:
        if proc.is_alive():
            proc.terminate()
    for proc in handles:
        proc.join(timeout=5.0)
        if proc.is_alive():
            proc.kill()
            proc.join(timeout=5.0)


def _worker(index: int, spec: PolicySpec) -> dict[str, Any]:
    assert _WORLDS, "no worlds were set before the fork"

    def progress(fraction: float) -> None:
        _QUEUE.put((index, fraction))

    return run_one(_WORLDS[index], spec, progress)


def _run_on_ray(world: World, specs: tuple[PolicySpec, ...], address: str,
                callbacks: list[Callable[[float], None]]) -> Iterator[tuple[PolicySpec, dict[str, Any]]]:
    """Run the variants as Ray tasks (one CPU each); the world is put in the object store once."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--ray needs the optional extra: pip install 'simnet[cluster]'") from None
    if not ray.is_initialized():
        ray.init(address=None if address == "local" else address, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
    remote = ray.remote(num_cpus=1)(run_one)
    world_ref = ray.put(world)
    refs = [remote.remote(world_ref, spec) for spec in specs]
    done = 0
    try:
        for spec, ref, cb in zip(specs, refs, callbacks):
            rec = ray.get(ref)
            done += 1
            cb(1.0)
            yield spec, rec
    finally:
        for ref in refs[done:]:  # interrupted or failed: no task may run on in the cluster
            ray.cancel(ref, force=True)


def run_variants(
    world: World | Sequence[World], specs: tuple[PolicySpec, ...], workers: int = 1,
    progress: ProgressFactory | None = None, ray_address: str | None = None,
) -> Generator[tuple[PolicySpec, dict[str, Any]], None, None]:
    """Yield ``(spec, record)`` for every variant, in the order of ``specs``.

    Closing the generator early (or an exception in the consumer that closes it) cancels the variants not
    yet started and ends the running workers; workers also end if this process dies (``_die_with_parent``).

    Args:
        world: the shared world, or one world per variant (a study's runs share one pool of workers).
        specs: the variants, started in this order.
        workers: processes to use (1: in this process). Workers are forked so the world's channels are
            shared, not copied.
        progress: makes a per-variant progress callback.
        ray_address: run on a Ray cluster instead (``"local"`` starts one on this machine); results are the
            same as with local workers, since every variant runs with one torch thread.
    """
    global _WORLDS, _QUEUE
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    workers = min(workers, len(specs))
    if not specs:
        return
    worlds = tuple(world) if isinstance(world, Sequence) else (world,) * len(specs)
    if len(worlds) != len(specs):
        raise ValueError(f"{len(worlds)} worlds for {len(specs)} variants")
    callbacks = [progress(s) if progress else (lambda f: None) for s in specs]
    if ray_address is not None:
        if len({id(w) for w in worlds}) > 1:
            raise ConfigError("--ray runs the variants of one world; a study runs on local workers")
        yield from _run_on_ray(worlds[0], specs, ray_address, callbacks)
        return
    if workers == 1 or "fork" not in mp.get_all_start_methods():
        for w, spec, cb in zip(worlds, specs, callbacks, strict=True):
            yield spec, run_one(w, spec, cb)
        return
    ctx = mp.get_context("fork")
    _WORLDS, _QUEUE = worlds, ctx.Queue()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_die_with_parent,
                               initargs=(os.getpid(),))
    finished = False
    try:
        futures: dict[Future[dict[str, Any]], int] = {pool.submit(_worker, i, s): i for i, s in enumerate(specs)}
        done: dict[int, dict[str, Any]] = {}
        next_out = 0
        pending = set(futures)
        while pending:
            finished_now, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            _drain(_QUEUE, callbacks)
            for fut in finished_now:
                done[futures[fut]] = fut.result()
            while next_out in done:
                callbacks[next_out](1.0)
                yield specs[next_out], done.pop(next_out)
                next_out += 1
        _drain(_QUEUE, callbacks)
        finished = True
    finally:
        if finished:
            pool.shutdown(wait=True)
        else:  # an error, a signal, or the consumer closed the generator: no worker may run on
            _stop_pool(pool)
        _WORLDS, _QUEUE = (), None


def _drain(q: Any, callbacks: list[Callable[[float], None]]) -> None:
    while True:
        try:
            index, fraction = q.get_nowait()
        except queue.Empty:
            return
        callbacks[index](fraction)
