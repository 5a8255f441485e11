"""Filtering what native code (TensorFlow's C++ logging) writes to file descriptor 2, which
Python's logging filters never see."""

import contextlib
import os
import sys
import tempfile
import threading

# Two captures at once would each restore the other's file as stderr.
_one_capture_at_a_time = threading.Lock()


@contextlib.contextmanager
def filtered(keep):
  """Runs the block with file descriptor 2 captured, then writes ``keep(captured)`` (bytes
  in, bytes out) to it. Python's own writes to stderr meanwhile are captured too."""
  with _one_capture_at_a_time, tempfile.TemporaryFile() as captured:
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(captured.fileno(), 2)
    try:
      yield
    finally:
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)
      captured.seek(0)
      kept = keep(captured.read())
      while kept:
        kept = kept[os.write(2, kept):]
