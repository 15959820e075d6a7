"""The files' sha256 computed beside the validation pass instead of before it.

A file source is identified by the sha256 of its files' bytes (:mod:`._integrity`): reading
them costs about as much CPU as decoding them once more (0.95 GB/s here: 8.5 s for S1's 8 GB).
:class:`DigestsBeside` hashes the files in a thread while the validation pass decodes them:
``hashlib`` and file reads release the GIL, as pyarrow's decoding does, so on two cores the
two overlap. What the validation pass must still see — a file rewritten while it is read,
even with its size and modification time put back — it sees through each file's full
``stat`` (size, modification and change times, inode, device; the change time cannot be set
back), recorded when the pass starts and compared when it ends.
"""

from __future__ import annotations

import os
import threading

from ._integrity import file_digest, stat_key


class DigestsBeside:
    """Hash ``paths`` in a background thread (:func:`file_digest` remembers each sha256).

    ``stop()`` ends the thread after the file it is hashing (a pass that fails does not wait
    for the rest); ``changed()`` joins it and tells whether any file's ``stat`` differs from
    the one recorded at the start.
    """

    def __init__(self, paths):
        self.paths = [os.fspath(p) for p in paths]
        self.stats = [stat_key(p) for p in self.paths]
        self._stop = threading.Event()
        self._thread = None
        if self.paths:
            self._thread = threading.Thread(target=self._run, name="torchlogit-digest", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        for p in self.paths:
            if self._stop.is_set():
                return
            try:
                file_digest(p)
            except OSError:
                return  # the pass reading the file reports it; changed() sees the stat

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def changed(self) -> bool:
        if self._thread is not None:
            self._thread.join()
        try:
            return [stat_key(p) for p in self.paths] != self.stats
        except OSError:
            return True
