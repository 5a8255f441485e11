"""What both command-line front doors share: an argument parser that reports bad
flags in one line, and the rule that bad input ends in one
``error: ...`` line on stderr with exit status 2, never a traceback."""

import argparse
import math
import sys

from legacy_resnet.core import compat
from legacy_resnet.core import onednn
from legacy_resnet.core.errors import SettingError
from legacy_resnet.core.errors import Stopped
from legacy_resnet.core.errors import UsageError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT


class ArgumentParser(argparse.ArgumentParser):
  """argparse, but a bad flag is one ``error:`` line and exit 2 (no usage dump)."""

  def error(self, message):
    sys.stderr.write('error: %s\n' % message)
    sys.exit(EXIT_USAGE)


def comma_list(text):
  """'a,b , c' -> ('a', 'b', 'c') (slim's format for scope lists)."""
  return tuple(item.strip() for item in text.split(',') if item.strip())


def positive_int(text):
  value = int(text)
  if value <= 0:
    raise argparse.ArgumentTypeError('%r is not a positive integer' % text)
  return value


def non_negative_int(text):
  value = int(text)
  if value < 0:
    raise argparse.ArgumentTypeError('%r is negative' % text)
  return value


def non_negative_float(text):
  value = float(text)
  if not (math.isfinite(value) and value >= 0):  # 'nan' and 'inf' parse as floats.
    raise argparse.ArgumentTypeError('%r is not a finite non-negative number' % text)
  return value


def fraction(text):
  """A decay or smoothing rate: at least 0 and below 1 (1 would never move)."""
  value = float(text)
  if not 0 <= value < 1:
    raise argparse.ArgumentTypeError('%r is not in [0, 1)' % text)
  return value


def degrees(text):
  """An angle limit: a number of degrees in [0, 180]."""
  value = float(text)
  if not 0 <= value <= 180:
    raise argparse.ArgumentTypeError('%r is not a number of degrees in [0, 180]' % text)
  return value


def run(main, argv):
  """Calls ``main(argv)``; a UsageError becomes one ``error:`` line and exit 2 (a
  SettingError naming the flag of each setting it names), a stop on a signal its
  message and 128 + the signal number."""
  verbose = '--verbose' in argv
  compat.set_verbose(verbose)
  if verbose:
    sys.stderr.write(onednn.describe() + '\n')
  try:
    return main(argv) or 0
  except SettingError as error:  # Settings are named by the flags that set them.
    sys.stderr.write('error: %s\n' % error.naming(lambda name: '--' + name))
    return EXIT_USAGE
  except (UsageError, compat.CompatError) as error:
    sys.stderr.write('error: %s\n' % error)
    return EXIT_USAGE
  except Stopped as stop:
    sys.stderr.write('%s\n' % stop)
    return stop.exit_status
  except KeyboardInterrupt:
    sys.stderr.write('error: interrupted\n')
    return EXIT_INTERRUPTED
