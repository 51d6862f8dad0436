"""Training recipes (need the ``train`` extra: torch).

Inference never imports torch: the analysis modules never import this package, and the command line imports
only ``emofuse.train.args`` (argparse definitions, no torch) until a training command actually runs
(tests/test_packaging.py checks that torch stays out of an analysis).
"""
