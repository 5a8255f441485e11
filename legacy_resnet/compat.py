"""Makes TF1-style code (tf.compat.v1 graphs and tf-slim 1.1.0) work on TensorFlow 2.16.2
to 2.21 (the oldest and newest versions .ci/run tests).

What it fixes, and nothing else:

* tf-slim's ``batch_norm`` reaches TensorFlow's lazily loaded
  ``tf_keras.legacy_tf_layers.normalization``, a module path that tf-keras >= 2.16
  only ships as ``tf_keras.src.legacy_tf_layers``.  An import hook maps the old path
  onto the new one, so ``tf_slim.layers.*`` and ``tf_slim.nets.*`` build graphs again.
  The user's own ``tf.keras`` stays Keras 3: ``TF_USE_LEGACY_KERAS`` is not touched.
* tf-slim tests ``isinstance(x, ops.Tensor)``; TF 2.21 dropped that alias of
  ``tensorflow.python.framework.tensor.Tensor`` from ``framework.ops``, so it is put back
  (it only adds the missing name).
* tf-slim triggers floods of deprecation log lines and ``layer.apply`` warnings on
  TF 2.21; they are filtered unless ``set_verbose(True)`` is called.
* TensorFlow 2.21's native start-up lines (oneDNN, CPU-feature and CUDA notices,
  printed before its C++ logging is initialized, so ``TF_CPP_MIN_LOG_LEVEL`` cannot
  hide them) are dropped when this module is what imports TensorFlow; every other line
  it writes to stderr during the import is passed on. ``LEGACY_RESNET_VERBOSE=1`` keeps
  them all.

The graph-mode session helpers live in ``sessions``; every private TensorFlow API the
project touches is listed in ``private_apis``.
"""

import contextlib
import importlib
import importlib.abc
import importlib.metadata
import importlib.util
import logging
import os
import re
import sys
import tempfile
import warnings


_NATIVE_NOISE = re.compile(
    rb'^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to '
    rb'STDERR|I0000 .*(oneDNN custom operations|Could not find cuda drivers|cpu_feature_guard).*'
    rb'|To enable the following instructions: .* rebuild TensorFlow with the appropriate '
    rb'compiler flags\.)$')


@contextlib.contextmanager
def _native_start_up_lines_dropped():
  """Captures file descriptor 2 while TensorFlow loads; replays all but the noise."""
  if 'tensorflow' in sys.modules or os.environ.get('LEGACY_RESNET_VERBOSE'):
    yield
    return
  sys.stderr.flush()
  saved = os.dup(2)
  with tempfile.TemporaryFile() as captured:
    os.dup2(captured.fileno(), 2)
    try:
      yield
    finally:
      os.dup2(saved, 2)
      os.close(saved)
      captured.seek(0)
      kept = [line for line in captured.read().splitlines(keepends=True)
              if not _NATIVE_NOISE.match(line.rstrip(b'\n'))]
      os.write(2, b''.join(kept))


with _native_start_up_lines_dropped():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

_OLD_PACKAGE = 'tf_keras.legacy_tf_layers'
_NEW_PACKAGE = 'tf_keras.src.legacy_tf_layers'


class CompatError(ImportError):
  """The installed packages cannot run tf-slim; the message says how to fix it."""


def tf_keras_problem():
  """Returns a one-line description of what is wrong with tf-keras, or None."""
  tf_version = tf.__version__
  wanted = '.'.join(tf_version.split('.')[:2])
  fix = 'pip install tf-keras==%s' % tf_version
  try:
    installed = importlib.metadata.version('tf-keras')
  except importlib.metadata.PackageNotFoundError:
    return ('tf-keras is not installed; tf-slim layers need it on TensorFlow %s: %s'
            % (tf_version, fix))
  if '.'.join(installed.split('.')[:2]) != wanted:
    return ('tf-keras %s does not match TensorFlow %s: %s' % (installed, tf_version, fix))
  return None


class _LegacyLayersAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
  """Serves ``tf_keras.legacy_tf_layers[.x]`` from ``tf_keras.src.legacy_tf_layers[.x]``."""

  def find_spec(self, fullname, path=None, target=None):
    del path, target
    if fullname != _OLD_PACKAGE and not fullname.startswith(_OLD_PACKAGE + '.'):
      return None
    return importlib.util.spec_from_loader(fullname, self)

  def create_module(self, spec):
    problem = tf_keras_problem()
    if problem:
      raise CompatError(problem)
    return importlib.import_module(_NEW_PACKAGE + spec.name[len(_OLD_PACKAGE):])

  def exec_module(self, module):
    del module  # Already executed under its real name.


def _old_path_resolves():
  """True when this tf-keras still ships the pre-2.16 module layout."""
  try:
    return importlib.util.find_spec(_OLD_PACKAGE) is not None
  except ImportError:
    return False


def _restore_ops_tensor():
  """tf-slim checks ``isinstance(x, ops.Tensor)`` (e.g. for in-place batch-norm updates,
  ``updates_collections=None``); TF 2.21 moved the class to ``framework.tensor``."""
  from tensorflow.python.framework import ops  # pylint: disable=g-direct-tensorflow-import
  from tensorflow.python.framework import tensor  # pylint: disable=g-direct-tensorflow-import
  if not hasattr(ops, 'Tensor'):
    ops.Tensor = tensor.Tensor


def install():
  """Makes tf-slim's layers work on this TensorFlow. Safe to call repeatedly."""
  _restore_ops_tensor()
  if any(isinstance(finder, _LegacyLayersAlias) for finder in sys.meta_path):
    return
  if tf_keras_problem() is None and _old_path_resolves():
    return
  sys.meta_path.append(_LegacyLayersAlias())


class _DeprecationFilter(logging.Filter):
  """Drops TensorFlow's per-call deprecation notices, keeps every other record."""

  _PATTERN = re.compile(r'deprecat|is deprecated|will be removed', re.IGNORECASE)

  def filter(self, record):
    return not self._PATTERN.search(record.getMessage())


_deprecation_filter = _DeprecationFilter()
# Python warnings tf-slim's layers raise on every call under TF 2.x.
_LAYER_WARNINGS = (r'`layer\.apply` is deprecated', r'`tf\.layers\.\w+` is deprecated')


def set_verbose(verbose):
  """Shows (True) or hides (False) the warning floods tf-slim causes on TF 2.x."""
  tf_logger = tf.get_logger()
  if verbose:
    tf_logger.removeFilter(_deprecation_filter)
  else:
    tf_logger.addFilter(_deprecation_filter)  # logging ignores a repeated add.
  for message in _LAYER_WARNINGS:
    warnings.filterwarnings('default' if verbose else 'ignore', message=message)


install()
set_verbose(False)
