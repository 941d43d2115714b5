"""The daemon caps glibc's malloc arenas and fixes its mmap threshold; freeze and trim."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

# Eight threads alive at once each allocate outside pymalloc (> 512 bytes); glibc's
# malloc_info then lists one <heap> per arena in use.
_ARENAS_IN_USE = textwrap.dedent(
    """
    import ctypes, os, sys, tempfile, threading
    from quota_watch.daemon.memory import limit_malloc_arenas

    done = limit_malloc_arenas(int(sys.argv[1])) if sys.argv[1] != "-" else None
    barrier = threading.Barrier(9)
    kept = []

    def work():
        kept.append(bytearray(64 * 1024))
        barrier.wait()
        barrier.wait()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    barrier.wait()
    libc = ctypes.CDLL(None)
    libc.fopen.restype = ctypes.c_void_p
    libc.fclose.argtypes = [ctypes.c_void_p]
    libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    path = os.path.join(tempfile.mkdtemp(), "info.xml")
    stream = libc.fopen(path.encode(), b"w")
    libc.malloc_info(0, stream)
    libc.fclose(stream)
    barrier.wait()
    for t in threads:
        t.join()
    print(done, open(path).read().count("<heap nr="))
    """
)

_MALLOC_TUNABLES = ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_")

# The start of the scripts that measure what freeing gives back: RssAnon, and libc's malloc.
_ANON_AND_MALLOC = textwrap.dedent(
    """
    import ctypes

    def anon():
        for line in open("/proc/self/status"):
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024

    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    """
)

glibc_only = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.confstr("CS_GNU_LIBC_VERSION") is None,
    reason="glibc's malloc only",
)


def _run(script: str, *arguments: str, **env: str) -> list[str]:
    """What `script` prints, split, run in a fresh interpreter with `env` and none of glibc's
    malloc tunables but those given."""
    environment = {k: v for k, v in os.environ.items() if k not in _MALLOC_TUNABLES} | env
    done = subprocess.run(
        [sys.executable, "-c", script, *arguments],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=environment,
    )
    return done.stdout.split()


def _arenas(argument: str, **env: str) -> tuple[str, int]:
    flag, heaps = _run(_ARENAS_IN_USE, argument, **env)
    return flag, int(heaps)


@glibc_only
def test_threads_share_at_most_the_capped_arenas() -> None:
    assert _arenas("2") == ("True", 2)


@glibc_only
def test_without_the_cap_the_threads_take_more_arenas() -> None:
    flag, heaps = _arenas("-")
    assert flag == "None" and heaps > 2


@glibc_only
def test_an_operators_malloc_arena_max_is_left_alone() -> None:
    assert _arenas("2", MALLOC_ARENA_MAX="3") == ("False", 3)


# A reference cycle alive at the first freeze, dropped, then a second freeze: the cycle must be
# collected (the reload case), and what is alive at a freeze must be exempt from collections.
_FREEZE = textwrap.dedent(
    """
    import gc, weakref
    from quota_watch.daemon.memory import freeze_heap

    class Node:
        pass

    kept, dropped = Node(), Node()
    kept.me, dropped.me = kept, dropped
    gone = weakref.ref(dropped)
    first = freeze_heap()
    alive_frozen = gc.get_freeze_count() >= first
    del dropped
    gc.collect()
    survived_collect = gone() is not None  # frozen: a plain collection leaves the cycle alone
    freeze_heap()
    print(first > 0, alive_frozen, survived_collect, gone() is None, kept.me is kept)
    """
)


# Freed chunks below a live one stay inside glibc's heap (only a heap's free top goes back on
# free()); malloc_trim(0) returns their pages: RssAnon falls by about what was freed.
_TRIMMED = _ANON_AND_MALLOC + textwrap.dedent(
    """
    from quota_watch.daemon.memory import trim_malloc

    chunks = [libc.malloc(64 * 1024) for _ in range(256)]  # 16 MiB, below the mmap threshold
    for chunk in chunks:
        ctypes.memset(chunk, 1, 64 * 1024)  # touched: resident
    for chunk in chunks[:-1]:
        libc.free(chunk)
    before = anon()
    print(trim_malloc(), before - anon())
    """
)


def test_freeze_heap_exempts_the_live_heap_and_frees_what_a_later_call_unfroze() -> None:
    assert _run(_FREEZE) == ["True"] * 5


@glibc_only
def test_trim_gives_freed_heap_pages_back() -> None:
    trimmed, released = _run(_TRIMMED)
    assert trimmed == "True"
    assert int(released) > 8 * 2**20  # most of the 16 MiB freed


# One large block freed raises glibc's dynamic mmap threshold: the 2 MiB blocks that follow
# come from the heap, and freeing all but the last leaves their pages there. With the
# threshold fixed (1 MiB) they are mapped and unmapped one by one: RssAnon falls by what was
# freed.
_MMAP_THRESHOLD = _ANON_AND_MALLOC + textwrap.dedent(
    """
    import sys
    from quota_watch.daemon.memory import fix_mmap_threshold

    done = fix_mmap_threshold() if sys.argv[1] == "fix" else None
    libc.free(libc.malloc(8 * 2**20))  # mapped, then freed: the dynamic threshold rises
    chunks = [libc.malloc(2 * 2**20) for _ in range(8)]  # 16 MiB
    for chunk in chunks:
        ctypes.memset(chunk, 1, 2 * 2**20)  # touched: resident
    before = anon()
    for chunk in chunks[:-1]:
        libc.free(chunk)
    print(done, before - anon())
    """
)


def _mmap_threshold(argument: str, **env: str) -> tuple[str, int]:
    flag, released = _run(_MMAP_THRESHOLD, argument, **env)
    return flag, int(released)


@glibc_only
def test_with_the_threshold_fixed_freed_blocks_leave_at_once() -> None:
    flag, released = _mmap_threshold("fix")
    assert flag == "True"
    assert released > 12 * 2**20  # nearly all of the 14 MiB freed


@glibc_only
def test_with_the_dynamic_threshold_freed_blocks_stay() -> None:
    flag, released = _mmap_threshold("-")
    assert flag == "None"
    assert released < 4 * 2**20


@glibc_only
def test_an_operators_malloc_mmap_threshold_is_left_alone() -> None:
    flag, released = _mmap_threshold("fix", MALLOC_MMAP_THRESHOLD_="1048576")
    assert flag == "False"
    assert released > 12 * 2**20  # glibc applied the operator's own fixed threshold
