"""What the command-line front doors share: bad input (a flag included) ends in one
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


def _number(name, convert, accept, problem):
  """A flag type: ``convert(text)`` when ``accept`` takes it, else '<text> <problem>'.
  ``name`` is what argparse calls it when ``convert`` fails ('invalid <name> value')."""

  def parse(text):
    value = convert(text)
    if not accept(value):
      raise argparse.ArgumentTypeError('%r %s' % (text, problem))
    return value

  parse.__name__ = parse.__qualname__ = name
  return parse


positive_int = _number('positive_int', int, lambda value: value > 0, 'is not a positive integer')
non_negative_int = _number('non_negative_int', int, lambda value: value >= 0, 'is negative')
# 'nan' and 'inf' parse as floats.
non_negative_float = _number('non_negative_float', float,
                             lambda value: math.isfinite(value) and value >= 0,
                             'is not a finite non-negative number')
# A decay or smoothing rate (1 would never move).
fraction = _number('fraction', float, lambda value: 0 <= value < 1, 'is not in [0, 1)')
probability = _number('probability', float, lambda value: 0 <= value <= 1, 'is not in [0, 1]')
degrees = _number('degrees', float, lambda value: 0 <= value <= 180,
                  'is not a number of degrees in [0, 180]')


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
  except SettingError as error:
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
