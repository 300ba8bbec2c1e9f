"""The examples run: the README quickstart and every notebook (at small size)."""

import runpy
import warnings
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.release_memory
def test_quickstart_runs(capsys):
    runpy.run_path(str(EXAMPLES / "quickstart.py"), run_name="__main__")
    out = capsys.readouterr().out
    nrmse = float(out.split("NRMSE over the first Lyapunov time:")[1].split()[0])
    vpt = float(out.split("valid prediction time:")[1].split()[0])
    assert 0 < nrmse < 0.2
    assert 2 < vpt < 7.8  # well inside the 7.8-Lyapunov-time horizon: not capped


def test_readme_example_is_the_quickstart():
    readme = (EXAMPLES.parent / "README.md").read_text()
    quick = (EXAMPLES / "quickstart.py").read_text()
    body = quick.split('"""', 2)[2].strip()
    assert body in readme


#: Notebooks run by a real Jupyter kernel (nbclient): the one with a progress bar at small size (it must render
#: without the "IProgress not found" warning) and the one that displays an animation. The others run their code
#: cells in this process, in order, in one namespace (as a kernel does, without its 5 s start and its second copy
#: of JAX, the library and their compiled programs: 0.9 GB beside the worker).
IN_KERNEL = {"edge_of_chaos.ipynb", "bucket.ipynb"}
NOTEBOOKS = sorted(p.name for p in EXAMPLES.glob("*.ipynb"))


def test_some_notebooks_run_in_a_kernel():
    assert IN_KERNEL < set(NOTEBOOKS)


@pytest.mark.release_memory
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_executes(name, monkeypatch):
    nbformat = pytest.importorskip("nbformat")

    monkeypatch.setenv("RESERVOIRS_EXAMPLES_SMALL", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(EXAMPLES / name, as_version=4)
    if name not in IN_KERNEL:
        _run_cells(nb, name, monkeypatch)
        return
    from nbclient import NotebookClient

    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(EXAMPLES)}})
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    streams = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "IProgress not found" not in streams  # progress bars render without ipywidgets


def _run_cells(nb, name, monkeypatch):
    """Every code cell of `nb`, in order, in one namespace, from the examples folder; an error fails the test."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.chdir(EXAMPLES)
    ns = {"__name__": "__main__"}
    try:
        # the warnings a notebook shows its reader (a ridge at the edge of its grid, say) are part of its output, as
        # in a kernel: recorded, not raised
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
                exec(compile(cell.source, f"{name}, code cell {i + 1}", "exec"), ns)
                plt.close("all")
    finally:
        ns.clear()
        plt.close("all")


def test_readme_substrate_recipe_works():
    import jax
    import jax.numpy as jnp

    import reservoirs as rc

    readme = (EXAMPLES.parent / "README.md").read_text()
    block = readme.split("## Adding a substrate", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    ns: dict = {}
    exec(compile(block, "README.md", "exec"), ns)
    ring = ns["Ring"](W_in=jax.random.uniform(jax.random.key(0), (50, 1), minval=-1, maxval=1),
                      gain=jnp.asarray(0.9), in_size=1)
    u = jnp.sin(jnp.arange(800.0) / 6)
    model = rc.fit(ring, u[:-1], u[1:], washout=50)
    y, _ = rc.predict(model, u[:200])
    assert float(rc.nrmse(u[1:201], y)) < 0.1
    # the registration block that follows makes it a one-line swap
    section = readme.split("## Adding a substrate", 1)[1]
    register = section.split("```python", 2)[2].split("```", 1)[0]
    from reservoirs import _registry

    try:
        exec(compile(register, "README.md", "exec"), ns)
        assert "ring" in rc.registry()
        res, readout, units, gain, _ = rc.preset("ring", key=jax.random.key(1))
        assert isinstance(res, ns["Ring"]) and units == 100 and gain == 0.9 and readout is not None
        model = rc.fit(res, u[:-1], u[1:], washout=50)
        y, _ = rc.predict(model, u[:200])
        assert float(rc.nrmse(u[1:201], y)) < 0.1
    finally:
        _registry._REGISTRY.pop("ring", None)
