"""Concatenate the sections written by the benchmark scripts into benchmarks/RESULTS.md."""

from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ["accuracy", "float32", "ngrc", "tune", "tune_vpt", "online", "speed", "parallel", "layout", "memory", "ridge_path", "edge", "substrates", "substrate_forecast", "classify",
         "spintronic", "bucket", "lsm"]


def main() -> None:
    sections = sorted((HERE / "results").glob("*.md"),
                      key=lambda p: (ORDER.index(p.stem) if p.stem in ORDER else 99, p.stem))
    parts = [
        "# Benchmark results",
        "",
        "Written by the scripts in `benchmarks/` (float64 unless a section says otherwise). Rerun one with `python benchmarks/<script>.py`, then "
        "`python benchmarks/make_results.py`. Times are medians; compare ratios, not absolute times.",
        "",
    ]
    for p in sections:
        parts.append(p.read_text().rstrip() + "\n")
    (HERE / "RESULTS.md").write_text("\n".join(parts))
    print(f"wrote {HERE / 'RESULTS.md'} from {len(sections)} sections")


if __name__ == "__main__":
    main()
