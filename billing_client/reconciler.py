"""The background reconciler: pending transactions complete by themselves once AMCI is back.

Every ``reconcile.interval_seconds`` it runs ``usecases.reconcile.reconcile_pending()``, which
resends each retryable pending transaction that is due under its own stored Idempotency-Key (so
nothing is charged twice), and turns those past the 23-hour resend window ``unknown``. The sleep
is scheduling, not synchronisation: tests wait on ``on_pass`` instead.

A pass that raises is logged and the loop carries on; cancelling the task (application
shutdown) stops it between or during passes — an interrupted attempt leaves its transaction
pending, still under the same key, for the next run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from billing_client.logs import log
from billing_client.usecases.context import Context
from billing_client.usecases.reconcile import ReconcileReport, reconcile_pending

logger = logging.getLogger("billing_client")

OnPass = Callable[[ReconcileReport | None], None]
"""Called after every pass with its report (None when the pass raised)."""


async def run_reconciler(
    usecases: Context, interval_seconds: float, *, on_pass: OnPass | None = None
) -> None:
    """Loop until cancelled: sleep ``interval_seconds``, then one reconciliation pass."""
    while True:
        await asyncio.sleep(interval_seconds)
        report: ReconcileReport | None = None
        try:
            report = await reconcile_pending(usecases)
        except Exception as exc:
            log(
                logger,
                "reconcile_pass_failed",
                level=logging.ERROR,
                exc_info=True,
                error=type(exc).__name__,
            )
        else:
            if report.attempted or report.errors or report.unknown:
                # Counts only: no transaction ids, keys or card data in this line (each
                # transaction given up on has its own transaction_outcome_unknown line).
                trouble = report.still_pending or report.errors or report.unknown
                log(
                    logger,
                    "reconcile_pass",
                    level=logging.WARNING if trouble else logging.INFO,
                    completed=report.completed,
                    still_pending=report.still_pending,
                    failed=report.failed,
                    needs_card=report.needs_card,
                    busy=report.busy,
                    errors=report.errors,
                    unknown=report.unknown,
                )
        if on_pass is not None:
            on_pass(report)
