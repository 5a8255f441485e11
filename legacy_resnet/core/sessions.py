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
  """Builds the same graphs without TF2's tensor-equality check, which makes tf-slim's
  layers quadratic in the variable count (a third of building a ResNet-50); restores it."""
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
  also run the operations ``targets``. Unlike ``session.run`` (and ``make_callable`` with
  feeds), it prepares the signature now, without holding the interpreter lock."""
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
  """A ``tf.compat.v1.ConfigProto`` for training or evaluation sessions: soft placement,
  GPU memory grown on demand, the graph optimizer's passes run once per graph.

  Args:
    intra_op_threads: threads inside one op (0: TensorFlow picks, one per core).
    inter_op_threads: ops run in parallel (0: TensorFlow picks).
    xla_jit: compile the graph with XLA's auto-clustering, on the CPU too (measured
      slower there for these ResNets, bench/README.md).
    num_cpu_devices: logical CPU devices to expose (for replicating over CPUs).
  """
  config = tf.compat.v1.ConfigProto(
      allow_soft_placement=True,
      intra_op_parallelism_threads=intra_op_threads,
      inter_op_parallelism_threads=inter_op_threads,
      device_count={'CPU': num_cpu_devices})
  config.gpu_options.allow_growth = True
  # A second round lengthens each graph's first run and only drops a few hundred cheap
  # nodes; steady training speed measured the same (bench/README.md).
  config.graph_options.rewrite_options.meta_optimizer_iterations = (
      rewriter_config_pb2.RewriterConfig.ONE)
  if xla_jit:
    config.graph_options.optimizer_options.global_jit_level = (
        tf.compat.v1.OptimizerOptions.ON_1)
    if not gpus():
      # Else auto-clustering ignores global_jit_level on the CPU. Like TF_XLA_FLAGS (which
      # train_graph.py sets for --xla), it only counts before the process's first session.
      from tensorflow.python.client import pywrap_tf_session  # pylint: disable=g-direct-tensorflow-import
      pywrap_tf_session.TF_SetTfXlaCpuGlobalJit(True)
  return config
