"""Benchmarks of retold (``python -m bench.run``); results go to ``bench/results/``."""
