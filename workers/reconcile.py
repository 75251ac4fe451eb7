"""The reconcile sweep inside every worker (labeling/services/reconcile.py says what it does).

A daemon thread of the worker's main process runs a pass at start and then every
ANNOTATOR_RECONCILE_INTERVAL_SECONDS; the stored-files pass runs about once an hour. It needs no extra service
(no beat, no cron) and works on the embedded default too; with several workers each one sweeps, which is safe:
every step is a compare-and-swap. The thread talks to the database directly, so it also runs while the broker is
down and sends the waiting jobs as soon as it is back.
"""

import logging
import threading

from celery.signals import worker_ready, worker_shutdown
from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)

FILES_EVERY_SECONDS = 3600
_stop = threading.Event()


def _loop(interval: float) -> None:
    from labeling.services.reconcile import reconcile

    files_every = max(1, int(FILES_EVERY_SECONDS // interval))
    passes = 0
    while True:
        try:
            report = reconcile(files=passes % files_every == 0)
            if any(report["jobs"].values()) or report["redispatched"] or any(report["rebuilt"].values()):
                logger.warning("reconcile: %s", report)
        except Exception:  # noqa: BLE001 - the next pass tries again (the database may be down)
            logger.exception("reconcile pass failed")
        finally:
            # No connection is held between passes (nor inherited by pool processes forked meanwhile).
            connection.close()
        passes += 1
        if _stop.wait(interval):
            return


@worker_ready.connect
def start_sweep(sender=None, **kwargs) -> None:
    interval = settings.ANNOTATOR["RECONCILE_INTERVAL_SECONDS"]
    if interval <= 0:
        logger.info("reconcile sweep off (ANNOTATOR_RECONCILE_INTERVAL_SECONDS=0)")
        return
    _stop.clear()
    threading.Thread(target=_loop, args=(interval,), name="reconcile", daemon=True).start()
    logger.info("reconcile sweep every %ss", interval)


@worker_shutdown.connect
def stop_sweep(sender=None, **kwargs) -> None:
    _stop.set()
