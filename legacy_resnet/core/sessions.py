"""Graph-mode session helpers shared by training, evaluation and the benchmark: the
session config, a prepared training step, faster graph building, and device lookup."""

import contextlib

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import rewriter_config_pb2  # pylint: disable=g-direct-tensorflow-import


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
  it now (grappler's rewrites, kernels, the executor: the largest part of a ResNet-50
  training step's start-up, bench/startup_phases.py) and without holding Python's
  interpreter lock, so other threads work meanwhile; and each call skips
  ``session.run``'s per-call feed and fetch handling. It rests on
  ``Session._make_callable_from_options``, TensorFlow's C++ ``Session::MakeCallable``
  (``session.make_callable`` with feeds falls back to ``session.run``).
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
      ResNets (bench/README.md, "Results"), so the programs leave it off unless ``--xla``.
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
  # A second round of passes lengthens each graph's first run (the initializer, the
  # training step) and only drops a few hundred cheap nodes; steady training speed
  # measured the same (bench/README.md).
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
