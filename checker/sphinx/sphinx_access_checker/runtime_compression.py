"""The runtime's precompressed siblings, written by a thread while the build goes on.

Used by the asset pipeline (``assets.stage``, which hands it the staged runtime's plan, and
``assets.copy_runtime``, which waits for it before copying the runtime).
"""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path
from typing import Final

from sphinx.errors import ExtensionError
from sphinx.util import logging

from sphinx_access_checker import compress

logger = logging.getLogger(__name__)

# The compression cache's group for the runtime's siblings (compress.Siblings): its own
# entries, index and clean-up, apart from the small files' group, compressed at once.
RUNTIME_GROUP: Final = "runtime"


class RuntimeCompression:
    """The runtime's siblings, compressed in a thread while the build goes on.

    Sphinx reads and writes in one thread, so on a cold cache a second core sits idle while
    brotli works through the WebAssembly file (about a minute). The thread uses it, from the
    start of builder-inited: it first compresses the npm boot files as they are in
    ``node_modules`` (``head_start``; the staged copies have the same bytes), while the compile
    step runs Pyodide in Node; then, once the runtime is staged, it takes the plan for the
    staged folder (:meth:`hand`), compresses what is still missing (the standard library zip)
    and places every sibling. Build-finished waits for it (:meth:`wait`), before it copies the
    runtime. An exception in the thread is kept and raised by :meth:`wait`: the build fails
    with its message.

    Nothing else uses what the thread writes: the ``runtime`` group of the compression cache
    (the small files are the ``static`` group) and the siblings in the runtime's staging
    folder, which Sphinx never copies (the runtime is copied by build-finished, after waiting).

    Not used when Sphinx runs in parallel (``-j N``): it forks its reading and writing
    processes after builder-inited, and a fork copies into the child, still held, any lock
    that the thread holds at that moment (a module it is importing, a file object it is
    writing, a C library's own), where no thread will ever release it. The children have no
    reason to touch what the thread uses, but proving that for every lock is not worth it:
    with ``-j`` the cores are Sphinx's anyway. So the runtime is then compressed at once,
    before any fork, as the small files always are.

    The thread is a daemon: a build that fails or is interrupted does not wait for brotli to
    finish (its temporary files are hidden and later cleaned up; no entry is ever half
    written). A later build with the same cache in the same process waits for it first.
    """

    def __init__(self, head_start: list[Path], cache: Path) -> None:
        self.head_start = head_start
        self.cache = cache
        self.started = time.perf_counter()
        self.error: BaseException | None = None
        self._plan: queue.SimpleQueue[compress.Siblings | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="access-checker-compress", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            if self.head_start:
                compress.fill(self.head_start, self.cache, group=RUNTIME_GROUP)
            work = self._plan.get()
            if work is not None:
                work.complete()
        except BaseException as exc:  # kept, and raised in the build's own thread by wait()
            self.error = exc

    def hand(self, work: compress.Siblings | None) -> None:
        """The plan for the staged runtime; None when staging failed (the thread then ends)."""
        self._plan.put(work)

    def join(self) -> None:
        """Block until the thread is done, whatever the outcome."""
        self._thread.join()

    def wait(self) -> None:
        """Block until the siblings are written; raise what the thread raised, as a build error."""
        waited = time.perf_counter()
        self.join()
        if self.error is not None:
            raise ExtensionError(f"access-checker: compressing the runtime failed: {type(self.error).__name__}: "
                                 f"{self.error}", modname=__name__) from self.error
        now = time.perf_counter()
        logger.info("access-checker: compressed the runtime (brotli 11, gzip 9) in %.1f s beside the build, "
                    "which waited %.1f s for it at its end; cached in %s",
                    now - self.started, now - waited, self.cache / compress.FOLDER / RUNTIME_GROUP)
