"""A progress bar that renders everywhere: a widget in Jupyter when ipywidgets is installed, text otherwise.

`tqdm.auto` picks the notebook bar in Jupyter and, without ipywidgets, prints "IProgress not found" and a broken
bar; this picks the text bar in that case (it renders in notebooks and terminals alike).
"""

from __future__ import annotations

import importlib.util


def progress_bar(iterable=None, **kwargs):
    """`tqdm(iterable, **kwargs)`: the notebook widget where it can render, the text bar elsewhere."""
    if importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm
    else:
        from tqdm.std import tqdm
    return tqdm(iterable, **kwargs)
