"""Charts are drawn in a process of their own.

Matplotlib costs about 50 MB once imported and a third of a second of CPU per chart, most of it
holding the GIL: drawn in the bot's process, every chart would grow its memory for good and stall
everyone's updates while it draws. The drawing process starts at the first chart and lives as long
as the bot; it ends with it, even when the bot is killed (its pipe to the bot closes).
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING

from dispatch.stats import Stats

if TYPE_CHECKING:
    from bot.export_words import ChartLabels


def _draw(stats: Stats, labels: ChartLabels) -> bytes:
    from bot.charts import stats_chart  # only the drawing process imports matplotlib

    return stats_chart(stats, labels)


class ChartDrawer:
    """Draws /stats charts, one at a time, in the drawing process."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    async def draw(self, stats: Stats, labels: ChartLabels) -> bytes:
        """The PNG chart of these statistics, with these words on it."""
        if self._pool is None:
            # Spawned, not forked: the bot has threads (the database's), which a fork would copy
            # in whatever state they are.
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        return await asyncio.get_running_loop().run_in_executor(self._pool, _draw, stats, labels)

    def close(self) -> None:
        """End the drawing process (a chart being drawn is abandoned)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
