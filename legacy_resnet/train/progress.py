"""A one-line training progress bar: rewritten in place on a terminal, else printed
every few seconds so logs stay readable."""

import sys
import time

BAR_WIDTH = 20
LOG_INTERVAL_SECS = 10.0  # between lines when not on a terminal


class ProgressBar:
  """Shows epoch, step, loss, accuracy and images per second."""

  def __init__(self, total_steps, steps_per_epoch, batch_size):
    self._total = total_steps
    self._per_epoch = steps_per_epoch
    self._batch_size = batch_size
    self._stream = sys.stdout
    self._interactive = self._stream.isatty()
    self._last_log = 0.0
    self._window_start = None
    self._window_steps = 0

  def update(self, step, loss, accuracy):
    """Records that ``step`` finished with this batch loss and accuracy."""
    now = time.perf_counter()
    if self._window_start is None:
      self._window_start = now  # The first step timed starts the clock.
      return
    self._window_steps += 1
    elapsed = now - self._window_start
    rate = self._window_steps * self._batch_size / elapsed if elapsed > 0 else 0.0
    if not self._interactive and now - self._last_log < LOG_INTERVAL_SECS:
      return
    self._last_log = now
    done = int(BAR_WIDTH * step / self._total)
    line = ('epoch %d [%s%s] step %d/%d loss %.4f acc %.3f %.1f img/s'
            % ((step - 1) // self._per_epoch + 1, '=' * done, '.' * (BAR_WIDTH - done),
               step, self._total, loss, accuracy, rate))
    self._stream.write(('\r' + line) if self._interactive else line + '\n')
    self._stream.flush()

  def restart_clock(self):
    """Starts timing afresh at the next step, so evaluations do not count as training."""
    self._window_start = None
    self._window_steps = 0

  def message(self, text):
    """Prints a line of its own without breaking the bar."""
    self._stream.write(('\n' if self._interactive else '') + text + '\n')
    self._stream.flush()
