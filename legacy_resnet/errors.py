"""The one exception type for bad input: the command-line front doors print it as a
single ``error: ...`` line and exit with status 2."""


class UsageError(Exception):
  """Bad input from the user (a file, key, flag or checkpoint). The message names
  what is wrong and where, in one line."""
