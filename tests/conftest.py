"""Test configuration: accuracy comparisons run in float64.

The library never flips `jax_enable_x64` on import; the tests do, here, once. Float32 behaviour is tested with
explicit `dtype=jnp.float32` or inside `jax.enable_x64(False)`.
"""

import os
import shutil
import tempfile

# One on-disk compilation cache for this test session, shared with the processes the tests start (the CLI demo,
# the notebooks' kernels inherit the environment). It starts empty on every run, so every program is still compiled
# once per session; what it saves is compiling the same program again after `_release_memory` dropped it, or in
# another process. Set before JAX reads its configuration.
_CACHE_DIR = tempfile.mkdtemp(prefix="reservoirs-test-xla-")
os.environ["JAX_COMPILATION_CACHE_DIR"] = _CACHE_DIR
os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"

import jax

jax.config.update("jax_enable_x64", True)

import ctypes
import gc

import pytest


def _release_memory():
    """Drop JAX's compiled executables and hand the freed heap back to the OS (glibc keeps it otherwise, and the
    notebooks' kernels run beside this process)."""
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


def pytest_unconfigure(config):
    shutil.rmtree(_CACHE_DIR, ignore_errors=True)


def pytest_configure(config):
    config.addinivalue_line("markers", "release_memory: drop compiled code after this test (a whole pipeline)")


@pytest.fixture(autouse=True)
def _free_compiled_code_after_heavy_tests(request):
    """After a test marked `release_memory` (the CLI demo compiles several hundred MB of programs)."""
    yield
    if request.node.get_closest_marker("release_memory") is not None:
        _release_memory()
