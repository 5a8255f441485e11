"""The exceptions the command-line front doors turn into a message and an exit status."""

import re


class UsageError(Exception):
  """Bad input from the user; the one-line message names what is wrong and where (exit 2)."""


class Stopped(Exception):
  """Training stopped on a signal after saving its work; the message says where."""

  def __init__(self, message, exit_status):
    super().__init__(message)
    self.exit_status = exit_status


# Lines of TensorFlow's graph-execution errors that say where, not what.
_WHERE_LINES = re.compile(r'^(Graph execution error:|Detected at node|Node: |File "|\[\[|'
                          r'Original stack trace)')


def first_cause(error):
  """The first line of ``error``'s message that says what went wrong."""
  for line in str(error).splitlines():
    line = line.strip()
    if line and not _WHERE_LINES.match(line):
      return line
  return type(error).__name__


_SETTING = re.compile(r'\{([a-z0-9_]+)\}')


class SettingError(UsageError):
  """A setting's value is bad. The template names settings as ``{batch_size}`` and takes
  ``values`` by ``%``; the message shows 'batch_size 64 ...', ``naming(flag_of)`` what
  the command line calls it ('--batch_size 64 ...')."""

  def __init__(self, template, *values):
    self.template, self.values = template, values
    super().__init__(self.naming(lambda name: name))

  def naming(self, name_of):
    """The message with each ``{setting}`` replaced by ``name_of(setting)``."""
    return _SETTING.sub(lambda match: name_of(match.group(1)), self.template) % self.values
