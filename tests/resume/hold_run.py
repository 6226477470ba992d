"""`sandbox ...` that stops still once the run log has N events, for a test to kill -9.

Usage: ``python hold_run.py N [torn] -- <sandbox arguments>``. With ``torn``, half of a
line is written before stopping, as a kill in the middle of a write would leave it.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from sandbox.record import writer as record_writer

HOLD_AT = int(sys.argv[1])
TORN = sys.argv[2] == "torn"
_emit = record_writer.RunWriter.emit


def _holding_emit(self: Any, event: Any) -> Any:
    out = _emit(self, event)
    if self.seq >= HOLD_AT:
        if TORN:
            self._fh.write('{"v":1,"seq":' + str(self.seq) + ',"t_sim":0.1,"kin')
            self._fh.flush()
        while True:  # wait here for SIGKILL
            time.sleep(1)
    return out


record_writer.RunWriter.emit = _holding_emit  # type: ignore[method-assign]

if __name__ == "__main__":
    from sandbox.cli.main import main

    sys.argv = ["sandbox", *sys.argv[sys.argv.index("--") + 1 :]]
    main()
