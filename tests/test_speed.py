"""The speed levers keep the numbers: the default training graph (batch norm in training
mode, separate evaluation tower, fast graph building, default session config) against
the plain graph (an ``is_training`` switch, plain ``tf.compat.v1.Session``), same
weights and batches; and ``--xla`` really compiles on the CPU."""

import subprocess
import sys

import netutil
import numpy as np
import pytest
import tensorflow as tf
from scriptutil import ROOT

from legacy_resnet.graph import model_graph
from legacy_resnet.core import sessions
from legacy_resnet.programs import train_cli

pytestmark = netutil.QUIET

IMAGE_SIZE = (32, 32)
NUM_CLASSES = 4
STEPS = 3


def _graph(batch_norm_switch):
  settings = train_cli.settings_of(['--model_name', 'resnet_v1_18'])
  graph = tf.Graph()
  with graph.as_default():
    tf.compat.v1.set_random_seed(0)
    tensors = model_graph.build_training(settings, NUM_CLASSES, IMAGE_SIZE, steps_per_epoch=10,
                                         total_steps=10, batch_norm_switch=batch_norm_switch)
    saver = tf.compat.v1.train.Saver()
  graph.finalize()
  return graph, tensors, saver


def _batches():
  rng = np.random.default_rng(5)
  for _ in range(STEPS):
    yield (rng.random((8,) + IMAGE_SIZE + (3,), dtype=np.float32),
           rng.integers(0, NUM_CLASSES, 8))


def _run(batch_norm_switch, config, checkpoint):
  """Training losses and logits over STEPS steps, then held-out (evaluation) logits."""
  graph, tensors, saver = _graph(batch_norm_switch)
  model = tensors.model
  with tf.compat.v1.Session(graph=graph, config=config) as session:
    saver.restore(session, checkpoint)
    losses, logits = [], []
    for images, labels in _batches():
      _, loss, train_logits = session.run([tensors.train_op, tensors.loss, model.logits],
                                          model_graph.training_feed(model, images, labels))
      losses.append(loss)
      logits.append(train_logits)
    evaluation = session.run(model.eval_logits, {model.images: images})
  return np.array(losses), np.array(logits), evaluation


@pytest.fixture(scope='module')
def start_checkpoint(tmp_path_factory):
  graph, tensors, saver = _graph(True)
  with tf.compat.v1.Session(graph=graph) as session:
    session.run(tensors.initializer)
    return saver.save(session, str(tmp_path_factory.mktemp('start') / 'model.ckpt'))


def test_default_graph_and_session_match_the_plain_graph_within_1e4(start_checkpoint):
  plain = _run(True, tf.compat.v1.ConfigProto(), start_checkpoint)
  default = _run(False, sessions.session_config(), start_checkpoint)
  assert len(set(plain[0])) == STEPS  # The model really trains.
  for name, plain_values, default_values in zip(('loss', 'logits', 'eval logits'), plain,
                                                default):
    np.testing.assert_allclose(default_values, plain_values, atol=1e-4, rtol=1e-4,
                               err_msg=name)


def test_default_training_graph_has_no_batch_norm_conditionals():
  graph, tensors, _ = _graph(False)
  assert tensors.model.is_training is True
  assert not [op for op in graph.get_operations() if op.type in ('If', 'StatelessIf')]
  switch_graph, _, _ = _graph(True)
  assert [op for op in switch_graph.get_operations() if op.type in ('If', 'StatelessIf')]


def test_gradients_wait_on_one_group_of_all_batch_norm_updates():
  graph, tensors, _ = _graph(False)
  updates = graph.get_operation_by_name('batch_norm_updates')
  assert set(updates.control_inputs) == set(
      graph.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS))
  applied = [op for op in graph.get_operations() if op.type == 'ResourceApplyAdam']
  assert len(applied) == len(tensors.variables_to_train)
  for apply in applied:
    gradient = apply.inputs[-1].op  # ResourceApplyAdam's last input is the gradient.
    assert gradient.type == 'Identity' and gradient.control_inputs == [updates]


def test_prepared_run_casts_feeds_runs_targets_and_matches_session_run():
  graph = tf.Graph()
  with graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [None])
    counter = tf.compat.v1.Variable(0, dtype=tf.int64)
    total = tf.reduce_sum(x * 2.0)
    count = counter.assign_add(1)
    initializer = tf.compat.v1.global_variables_initializer()
  with tf.compat.v1.Session(graph=graph) as session:
    session.run(initializer)
    prepared = sessions.prepared_run(session, [x], [total], [count.op])
    values = prepared([1.0, 2.5])  # Python floats: float64, cast to the feed's float32.
    assert isinstance(values, list) and values[0] == session.run(total, {x: [1.0, 2.5]}) == 7.0
    prepared(np.ones(3, np.float32))
    assert session.run(counter) == 2


def test_fast_graph_building_restores_tensor_equality():
  from tensorflow.python.framework import tensor  # pylint: disable=g-direct-tensorflow-import
  before = tensor.Tensor._USE_EQUALITY  # pylint: disable=protected-access
  with sessions.fast_graph_building():
    assert not tensor.Tensor._USE_EQUALITY  # pylint: disable=protected-access
  assert tensor.Tensor._USE_EQUALITY == before  # pylint: disable=protected-access


_XLA_PROBE = """
import numpy as np, tensorflow as tf
from legacy_resnet.core import sessions
graph = tf.Graph()
with graph.as_default():
  x = tf.compat.v1.placeholder(tf.float32, [16, 16])
  y = tf.reduce_sum(tf.nn.relu(tf.matmul(x, x) + 1.0))
metadata = tf.compat.v1.RunMetadata()
with tf.compat.v1.Session(graph=graph, config=sessions.session_config(xla_jit=%s)) as session:
  value = session.run(y, {x: np.ones((16, 16), np.float32)}, run_metadata=metadata,
                      options=tf.compat.v1.RunOptions(trace_level=3))
assert value == 16 * 16 * 17
print(sorted(node.node_name for device in metadata.step_stats.dev_stats
             for node in device.node_stats))
"""


@pytest.mark.parametrize('xla', [True, False])
def test_xla_flag_compiles_on_the_cpu(xla):
  # A fresh process: TensorFlow reads the CPU-XLA switch before its first session.
  result = subprocess.run([sys.executable, '-c', _XLA_PROBE % xla], capture_output=True,
                          text=True, cwd=ROOT, check=True, timeout=300)
  assert ('xla_run' in result.stdout) == xla, result.stdout


def test_frozen_inference_matches_the_restored_graph_within_1e4(tmp_path):
  from legacy_resnet.checkpointing import checkpoints
  from legacy_resnet.evaluate import evaluation
  graph, tensors, saver = _graph(False)
  with tf.compat.v1.Session(graph=graph) as session:
    session.run(tensors.initializer)
    for images, labels in _batches():  # Trained a little: batch-norm statistics move.
      session.run(tensors.train_op, model_graph.training_feed(tensors.model, images, labels))
    saver.save(session, str(tmp_path / 'model.ckpt'), global_step=STEPS)
  checkpoints.write_metadata(str(tmp_path), {
      'model_name': 'resnet_v1_18', 'class_names': ['a', 'b', 'c', 'd'],
      'image_size': list(IMAGE_SIZE), 'moving_average_decay': None,
      'dataset': {'kind': 'test'}})
  classifier = evaluation.RestoredClassifier(str(tmp_path))
  try:
    images = np.random.default_rng(9).random((5,) + IMAGE_SIZE + (3,), dtype=np.float32)
    restored = classifier.session.run(classifier.tensors.eval_probabilities,
                                      {classifier.tensors.images: images})
    frozen = classifier.probabilities(images, freeze=True)
    np.testing.assert_allclose(frozen, restored, atol=1e-4, rtol=1e-4)
    assert classifier.graph.finalized
  finally:
    classifier.close()
