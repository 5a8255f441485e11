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

It also holds the graph-mode session helpers shared by training and evaluation.
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

import numpy as np

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
  from tensorflow.core.protobuf import rewriter_config_pb2  # pylint: disable=g-import-not-at-top

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


def gpus():
  """The GPUs TensorFlow sees."""
  return tf.config.list_physical_devices('GPU')


def default_device():
  """The device that graphs should be placed on: the first GPU if any, else the CPU."""
  return '/device:GPU:0' if gpus() else '/device:CPU:0'


@contextlib.contextmanager
def fast_graph_building():
  """Builds graphs without TF2's tensor-equality bookkeeping; restores it after.

  tf-slim's layers (tf-keras legacy layers) put all global variables into a set on
  every ``add_weight``, and under TF2 each variable's ``__hash__`` first asks whether
  execution is eager, which is slow: quadratic in the variable count, about a third of
  building a ResNet-50 training graph. Inside a graph that question's answer is no, and
  hashing falls back to ``id()`` either way, so turning the check off (TF1's
  ``disable_tensor_equality``) builds the same graph faster.
  """
  from tensorflow.python.framework import tensor  # pylint: disable=g-direct-tensorflow-import
  was_on = tensor.Tensor._USE_EQUALITY  # pylint: disable=protected-access
  tf.compat.v1.disable_tensor_equality()
  try:
    yield
  finally:
    if was_on:
      tf.compat.v1.enable_tensor_equality()


def prepared_run(session, feeds, fetches, targets=()):
  """A function that runs ``session`` on one fixed signature: it takes one value per
  tensor of ``feeds`` (positionally) and returns the list of ``fetches``' values, having
  also run the operations ``targets``.

  Unlike ``session.run``, which prepares a signature at its first run, this prepares
  it now (grappler's rewrites, kernels, the executor: about a second for a ResNet-50
  training step) and without holding Python's interpreter lock, so other threads work
  meanwhile; and each call skips ``session.run``'s per-call feed and fetch handling.
  It rests on ``Session._make_callable_from_options``, TensorFlow's C++
  ``Session::MakeCallable`` (``session.make_callable`` with feeds falls back to
  ``session.run``).
  """
  from tensorflow.core.protobuf import config_pb2  # pylint: disable=g-direct-tensorflow-import
  options = config_pb2.CallableOptions(feed=[tensor.name for tensor in feeds],
                                       fetch=[tensor.name for tensor in fetches],
                                       target=[operation.name for operation in targets])
  run = session._make_callable_from_options(options)  # pylint: disable=protected-access
  # The C++ callable takes no casts: a value must already have its tensor's dtype.
  dtypes = [tensor.dtype.as_numpy_dtype for tensor in feeds]

  def prepared(*values):
    return run(*[np.asarray(value, dtype) for value, dtype in zip(values, dtypes)])

  return prepared


def session_config(intra_op_threads=0, inter_op_threads=0, xla_jit=False,
                   num_cpu_devices=1):
  """A ``tf.compat.v1.ConfigProto`` for training or evaluation sessions.

  Args:
    intra_op_threads: threads inside one op (0: TensorFlow picks, one per core).
    inter_op_threads: ops run in parallel (0: TensorFlow picks).
    xla_jit: compile the graph with XLA's just-in-time compiler (auto-clustering, on
      the CPU too). On a CPU it was measured slower than the default kernels for these
      ResNets (README, "Speed"), so the programs leave it off unless ``--xla``.
    num_cpu_devices: logical CPU devices to expose (for replicating over CPUs).

  Returns:
    A ConfigProto that soft-places ops (GPU when there is one, CPU otherwise), lets
    GPU memory grow on demand instead of grabbing it all, and runs the graph
    optimizer's passes once per graph instead of twice.
  """
  config = tf.compat.v1.ConfigProto(
      allow_soft_placement=True,
      intra_op_parallelism_threads=intra_op_threads,
      inter_op_parallelism_threads=inter_op_threads,
      device_count={'CPU': num_cpu_devices})
  config.gpu_options.allow_growth = True
  # The second round of passes costs about 0.3 s at each graph's first run (the
  # initializer, the training step) and only drops a few hundred cheap nodes; steady
  # training speed measured the same (README, "Speed").
  config.graph_options.rewrite_options.meta_optimizer_iterations = (
      rewriter_config_pb2.RewriterConfig.ONE)
  if xla_jit:
    config.graph_options.optimizer_options.global_jit_level = (
        tf.compat.v1.OptimizerOptions.ON_1)
    if not gpus():
      # Without this, TensorFlow's auto-clustering ignores global_jit_level on the CPU
      # and the session runs without XLA. Like TF_XLA_FLAGS=--tf_xla_cpu_global_jit
      # (which train_graph.py sets for --xla), it only counts before the process's
      # first session: TensorFlow reads it when it registers the CPU for XLA.
      from tensorflow.python.client import pywrap_tf_session  # pylint: disable=g-direct-tensorflow-import
      pywrap_tf_session.TF_SetTfXlaCpuGlobalJit(True)
  return config


install()
set_verbose(False)
