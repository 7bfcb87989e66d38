"""A progress bar for `ingest` and `reprocess` (rich), on a terminal only: never in --json output,
never when stderr is piped or redirected, never with -q. Log lines (-v) print above it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pipeline.derive import Derived
from pipeline.workers import DeriveJob


class MailProgress:
    """What the flow tells the bar: how many mails there are (when known), and each one written."""

    def __init__(self, bar: Any = None, task: Any = None):
        self.bar, self.task = bar, task

    def total(self, count: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, total=count)

    def written(self, job: DeriveJob, derived: Derived, seconds: float) -> None:
        if self.bar is not None:
            self.bar.advance(self.task)


@contextmanager
def mail_progress(label: str, wanted: bool) -> Iterator[MailProgress]:
    """A bar labelled `label` while the block runs, when `wanted` and stderr is a terminal."""
    if not wanted:
        yield MailProgress()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        yield MailProgress()
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        yield MailProgress(bar, bar.add_task(label, total=None))
