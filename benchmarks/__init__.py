"""partpoint benchmarks: the paper's tables on our backbones and data (``python -m benchmarks.run --full|--quick``).

One module per concern: ``settings`` (what a run measures), ``machine`` (where it ran), ``datasets``
(data the benchmark generates itself), ``stand_ins`` (tiny backbones + pointers for ``--tiny``),
``accuracy`` (main table), ``ablations``, ``speed``, ``gallery``, ``report`` (RESULTS.md from the json
files) and ``run`` (the single entry point).
"""
