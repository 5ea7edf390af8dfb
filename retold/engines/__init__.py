"""Engines: the plumbing that runs retold's pure stages over many documents.

An engine only moves data; every per-document and per-pair decision is made by the stage
functions (:func:`retold.retrieve.document_features`, :func:`retold.compare.compare_documents`,
the two-tier judging of :mod:`retold.scan`), so two engines cannot drift apart.

``retold.engines.spark``
    PySpark: Parquet checkpoints per stage, candidate pairs from LSH band and rare-term buckets
    (no all-pairs join). Installed with ``pip install 'retold[spark]'``; it is the only module
    that imports pyspark. Entry point: ``python -m retold.spark`` (see ``docs/spark.md``).

The local engine is :func:`retold.scan.scan` over a SQLite :class:`~retold.index.Index`.
"""

__all__: list[str] = []
