"""SIGINT and SIGTERM ask the training loop to save and stop after its current step."""

import signal
import threading

class StopRequests:
  """While entered, records the first SIGINT or SIGTERM in ``signal_name`` (a second one
  interrupts at once); outside the main thread, where signals cannot be caught, nothing."""

  def __init__(self):
    self.signal_name = None
    self._previous = {}

  def _record(self, signal_number, unused_frame):
    if self.signal_name:
      raise KeyboardInterrupt
    self.signal_name = signal.Signals(signal_number).name

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for signal_number in (signal.SIGINT, signal.SIGTERM):
        self._previous[signal_number] = signal.signal(signal_number, self._record)
    return self

  def __exit__(self, *unused_exc_info):
    for signal_number, handler in self._previous.items():
      signal.signal(signal_number, handler)
    self._previous.clear()

  @property
  def exit_status(self):
    """128 + the signal number, the shell's convention for a signal-ended process."""
    return 128 + signal.Signals[self.signal_name].value
