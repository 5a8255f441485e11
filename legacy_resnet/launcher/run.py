"""``legacy-resnet-run SCRIPT.py [FLAGS ...]``: runs a TensorFlow 1 / tf-slim program as it was
written, on TensorFlow 2 (USAGE says what changes)."""

import builtins
import io
import os
import sys
import types

import tensorflow as tf

import legacy_resnet
from legacy_resnet.launcher import contrib
from legacy_resnet.launcher import soft_placement
from legacy_resnet.launcher import tf1_view
from legacy_resnet.core.cli import EXIT_USAGE

USAGE = """\
usage: legacy-resnet-run SCRIPT.py [FLAGS ...]
       python -m legacy_resnet.launcher.run SCRIPT.py [FLAGS ...]

Runs a TensorFlow 1 / tf-slim program (a tensorflow/models research/slim script, say)
unchanged on TensorFlow 2. Before SCRIPT.py runs:
  - legacy_resnet's compatibility layer makes tf-slim 1.1.0 work;
  - TensorFlow 1 behaviour is on (graphs and sessions: tf.compat.v1.disable_v2_behavior);
  - `import tensorflow as tf` in SCRIPT.py and in the modules beside it gives tf.compat.v1
    with stand-ins for tf.contrib (slim, framework, layers, training, metrics, losses);
    calling a tf.contrib name TensorFlow 2 lacks (quantize ...) stops with an error;
    installed libraries still get TensorFlow 2;
  - every session soft-places: operations pinned to a GPU run on the CPU when there is
    none (one notice line on stderr says so);
  - tf.keras is tf-keras (Keras 2) unless TF_USE_LEGACY_KERAS is set.
SCRIPT.py runs as __main__ with FLAGS as its sys.argv[1:] and its folder as sys.path[0];
its exit status is the launcher's. See docs/compat.md.
"""


def _problem(argv):
  """What is wrong with the launcher's command line ``argv``, or None."""
  if not argv:
    return 'no SCRIPT given (usage: legacy-resnet-run SCRIPT.py [FLAGS ...])'
  if argv[0].startswith('-'):
    return 'unknown option %s (usage: legacy-resnet-run SCRIPT.py [FLAGS ...])' % argv[0]
  try:
    with open(argv[0], 'rb'):
      return None
  except OSError as error:
    return 'cannot read SCRIPT %s: %s' % (argv[0], error.strerror)


def run_script(script, args):
  """Runs ``script`` as __main__ with ``sys.argv`` [script] + args; returns its exit
  status (SystemExit, from sys.exit or tf.app.run, passes through)."""
  sys.argv = [script] + list(args)
  # sys.path as ``python SCRIPT`` has it, with nets (beside legacy_resnet) still importable.
  sys.path[0] = os.path.dirname(os.path.realpath(script))
  home = os.path.dirname(os.path.dirname(os.path.abspath(legacy_resnet.__file__)))
  if not any(os.path.realpath(entry or os.curdir) == home for entry in sys.path):
    sys.path.append(home)
  path = os.path.abspath(script)
  try:
    # The module stays __main__: tf.app.run finds its ``main`` there, pickle its classes.
    main_module = types.ModuleType('__main__')
    main_module.__file__, main_module.__builtins__ = path, builtins
    sys.modules['__main__'] = main_module
    with io.open_code(path) as source:
      code = compile(source.read(), path, 'exec')
    exec(code, main_module.__dict__)  # pylint: disable=exec-used  (running the program is the point)
  except contrib.Unavailable as stop:
    sys.stderr.write('error: %s\n' % stop)
    return EXIT_USAGE
  except Exception as error:  # pylint: disable=broad-except  (reported as python would)
    # From the script's first frame on (none for a SyntaxError), as ``python SCRIPT`` shows it.
    shown = error.__traceback__
    while shown is not None and shown.tb_frame.f_code.co_filename != path:
      shown = shown.tb_next
    sys.excepthook(type(error), error.with_traceback(shown), shown)
    return 1
  return 0


def main(argv=None):
  """The launcher's command line ``argv`` (default sys.argv[1:]) -> exit status."""
  argv = sys.argv[1:] if argv is None else argv
  if argv[:1] in (['-h'], ['--help']):
    sys.stdout.write(USAGE)
    return 0
  problem = _problem(argv)
  if problem:
    sys.stderr.write('error: %s\n' % problem)
    return EXIT_USAGE
  # Keras 3 has no graph mode; TensorFlow reads this when the program first uses tf.keras.
  os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
  tf.compat.v1.disable_v2_behavior()
  soft_placement.install()
  tf1_view.install()
  return run_script(argv[0], argv[1:])


if __name__ == '__main__':
  sys.exit(main())
