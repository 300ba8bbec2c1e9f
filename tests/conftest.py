"""Test configuration: accuracy comparisons run in float64.

The library never flips `jax_enable_x64` on import; the tests do, here, once. Float32 behaviour is tested with
explicit `dtype=jnp.float32` or inside `jax.enable_x64(False)`.
"""

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


def pytest_configure(config):
    config.addinivalue_line("markers", "release_memory: drop compiled code after this test (a whole pipeline)")


@pytest.fixture(autouse=True)
def _free_compiled_code_after_heavy_tests(request):
    """After a test marked `release_memory` (the CLI demo compiles several hundred MB of programs)."""
    yield
    if request.node.get_closest_marker("release_memory") is not None:
        _release_memory()
