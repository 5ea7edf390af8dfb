"""Imported once by the fork server of ``retold serve`` (see :mod:`retold.web.workers`), never by users.

It imports the pipeline and loads the sentence encoder named by the environment variable
``RETOLD_SERVE_PRELOAD_ENCODER``, so that every worker forked afterwards starts warm and shares the
encoder's weights copy-on-write. A failure here is only logged: the workers then load the encoder
themselves, and report a failure to load it as a start-up error.
"""

from __future__ import annotations

import logging
import os

from .. import compare, trace  # noqa: F401  (imported for the workers to inherit)
from ..report import html  # noqa: F401
from . import workers

logger = logging.getLogger(__name__)


def _warm() -> None:
    name = os.environ.get(workers.PRELOAD_ENCODER_ENV)
    if not name:
        return
    try:
        from ..encoders import get_encoder

        encoder = get_encoder(name)
        if encoder is not None:
            encoder.encode(["The port reopened on Monday."])
    except Exception as exc:  # noqa: BLE001 - the fork server must not die: the workers will report it
        logger.warning("fork server could not preload encoder %r: %s", name, exc)


_warm()
