"""Test configuration: accuracy comparisons run in float64; the suite runs on two worker processes.

The library never flips `jax_enable_x64` on import; the tests do, here, once per worker. Float32 behaviour is tested
with explicit `dtype=jnp.float32` or inside `jax.enable_x64(False)`.

Where the time goes: three quarters of the suite's wall time is XLA compiling programs (about 4,000 of them; each
test builds reservoirs of its own sizes), not running them. So:
- `pyproject.toml` runs the tests on `-n logical --maxprocesses 2` pytest-xdist workers (two cores compile two
  programs at once), handing out tests in contiguous runs (`worksteal`) so that a module's tests mostly share a
  process and its compiled programs;
- compiled programs are dropped after each module, and after any test that leaves the worker above
  `_RSS_LIMIT_MB`, to keep the suite within its 2 GB memory budget with two workers (and the two notebooks that run
  in a Jupyter kernel, `tests/test_examples.py`).
XLA's backend optimisation level 0 compiles about a quarter faster, but it changes floating-point contraction, so
that a vmapped and a looped chaotic run no longer agree bit for bit: the tests compile as users do.
"""

import os
import shutil
import tempfile

# Set before JAX reads its configuration (JAX is imported in the workers only, below). One on-disk compilation
# cache for the whole run: made by the first process (the xdist controller), inherited through the environment by
# the workers and by the processes they start (the Jupyter kernels of `test_examples`). It starts empty, so every
# program is still compiled once per run; what it saves is compiling the same program again in the other worker, in
# a kernel, or after `_release_memory` dropped it. (JAX's cache key includes the cache's own path: one directory per
# process never shared an entry.) Two processes writing one entry at once is harmless: a reader that meets a
# half-written file warns and compiles.
_CACHE_ENV = "RESERVOIRS_TEST_XLA_CACHE"
_OWNS_CACHE = not os.path.isdir(os.environ.get(_CACHE_ENV, ""))
if _OWNS_CACHE:
    os.environ[_CACHE_ENV] = tempfile.mkdtemp(prefix="reservoirs-test-xla-")
_CACHE_DIR = os.environ[_CACHE_ENV]
os.environ["JAX_COMPILATION_CACHE_DIR"] = _CACHE_DIR
os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"

import ctypes
import gc

import pytest

# A worker that ends a test above this resident size drops its compiled programs (about 300 MB of it is JAX,
# the library and the test data; the rest is compiled code, 20-100 MB per test).
_RSS_LIMIT_MB = 500


def _is_xdist_controller(config) -> bool:
    """The process that only hands out tests to the workers: it needs no JAX (150 MB saved)."""
    return getattr(config.option, "numprocesses", None) not in (None, 0) and not hasattr(config, "workerinput")


def pytest_configure(config):
    config.addinivalue_line("markers", "release_memory: drop compiled code after this test (a whole pipeline)")
    if not _is_xdist_controller(config):
        import jax

        jax.config.update("jax_enable_x64", True)


def pytest_unconfigure(config):
    if _OWNS_CACHE:  # the controller, after its workers are done (or the only process)
        shutil.rmtree(_CACHE_DIR, ignore_errors=True)


def _release_memory():
    """Drop JAX's compiled executables and hand the freed heap back to the OS (glibc keeps it otherwise, and the
    notebooks' kernels run beside this process)."""
    import jax

    jax.clear_caches()
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass


@pytest.fixture(autouse=True, scope="module")
def _free_compiled_code_between_modules():
    """Drop compiled code after each test module: it is rarely shared across modules, and kept it adds up to more
    than the suite's 2 GB memory budget."""
    yield
    _release_memory()


@pytest.fixture(autouse=True)
def _free_compiled_code_after_heavy_tests(request):
    """Before and after a test marked `release_memory` (the CLI demo and a notebook compile several hundred MB of
    programs; a notebook in a Jupyter kernel does, in its own process, while this one waits), and after any test
    that left the process above `_RSS_LIMIT_MB`. Tests so marked also run one at a time across the workers. Dropped programs come back from the on-disk cache in milliseconds when needed again."""
    heavy = request.node.get_closest_marker("release_memory") is not None
    lock = None
    if heavy:
        # One heavy test at a time across the workers: the demo (about 1 GB in its worker) beside a notebook's
        # Jupyter kernel (up to 0.9 GB more) took the suite's summed peak to 2.2 GB.
        import fcntl

        lock = open(os.path.join(_CACHE_DIR, "heavy-tests.lock"), "w")
        fcntl.flock(lock, fcntl.LOCK_EX)
        _release_memory()
    try:
        yield
    finally:
        from reservoirs._cli import _resident_mb

        if heavy or _resident_mb() > _RSS_LIMIT_MB:
            _release_memory()
        if lock is not None:
            lock.close()  # releases the lock
