"""Evaluation of retold against labelled data (the ``retold eval`` command).

Modules, one concern each:

* :mod:`retold.eval.plagdet`: the PAN text-alignment measures (precision, recall, granularity,
  plagdet), :func:`~retold.eval.plagdet.score`.
* :mod:`retold.eval.pan`: PAN 2013 corpus reading, detection XML writing and
  :func:`~retold.eval.pan.evaluate_pan`, the runner.
* :mod:`retold.eval.baseline`: a word n-gram seed-and-merge baseline detector.
* :mod:`retold.eval.pairs`: :func:`~retold.eval.pairs.evaluate_pairs` for labelled document pairs.
* :mod:`retold.eval.paraphrase`: MRPC and STS-B scores of a sentence similarity.

Nothing heavy is imported here; import the module you need.
"""
