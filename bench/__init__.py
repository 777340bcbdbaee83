"""The benchmark suite: `python -m bench` (see BENCHMARKS.md). Not imported by the app."""
