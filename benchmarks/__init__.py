"""torchlogit's benchmark harness: the problems of ``BENCHMARKS.md``, the peers, the metric.

Run from the repository root::

    PYTHONPATH=src python -m benchmarks B1 B2 B3 --markdown

See ``benchmarks/README.md`` for the problems, the peers, how each peer's tolerance is chosen
and how the reference optimum is fixed.
"""
