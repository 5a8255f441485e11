"""In-graph replication (--num_clones) over logical CPU devices: shared variables on the
CPU, one set of batch-norm updates, and the same training trajectory as one clone."""

import os

import netutil
import numpy as np
import pytest
import tensorflow as tf
from scriptutil import read_json
from scriptutil import run_script

from legacy_resnet.graph import model_graph
from legacy_resnet.graph import replication
from legacy_resnet.core import sessions
from legacy_resnet.core.errors import SettingError
from legacy_resnet.programs import train_cli

pytestmark = netutil.QUIET

NUM_CLASSES = 3
IMAGE_SIZE = (32, 32)
GLOBAL_BATCH = 8
STEPS = 4


def _graph(num_clones):
  # Plain SGD: Adam would turn float noise in near-zero gradients into whole steps.
  settings = train_cli.settings_of(
      ['--model_name', 'resnet_v1_18', '--optimizer', 'sgd', '--learning_rate', '0.02',
       '--warmup_epochs', '0'])
  graph = tf.Graph()
  with graph.as_default():
    tensors = model_graph.build_training(
        settings, NUM_CLASSES, IMAGE_SIZE, steps_per_epoch=10, total_steps=10,
        clones=replication.clones(num_clones, True, 0))
    saver = tf.compat.v1.train.Saver()
  return graph, tensors, saver


def _session(graph, num_clones):
  return tf.compat.v1.Session(graph=graph,
                              config=sessions.session_config(num_cpu_devices=num_clones))


def _batches():
  """Batches whose two halves are the same images: each clone's batch-norm statistics
  then equal those of the whole batch, so one clone and two must agree."""
  rng = np.random.default_rng(3)
  for _ in range(STEPS):
    half = rng.random((GLOBAL_BATCH // 2,) + IMAGE_SIZE + (3,), dtype=np.float32)
    labels = rng.integers(0, NUM_CLASSES, GLOBAL_BATCH // 2)
    yield np.concatenate([half, half]), np.concatenate([labels, labels])


def _trajectory(num_clones, checkpoint):
  """Losses of STEPS training steps, and the trainable variables' change by the first."""
  graph, tensors, saver = _graph(num_clones)
  variables = {v.op.name: v for v in graph.get_collection('trainable_variables')}
  with _session(graph, num_clones) as session:
    saver.restore(session, checkpoint)
    start = session.run(variables)
    losses = []
    for images, labels in _batches():
      _, loss = session.run([tensors.train_op, tensors.loss],
                            model_graph.training_feed(tensors.model, images, labels))
      if not losses:
        first_update = {name: value - start[name]
                        for name, value in session.run(variables).items()}
      losses.append(loss)
  return np.array(losses), first_update


@pytest.fixture(scope='module')
def start_checkpoint(tmp_path_factory):
  """A one-clone graph's initial variables, written to disk for both runs to start from."""
  graph, tensors, saver = _graph(1)
  with _session(graph, 1) as session:
    session.run(tensors.initializer)
    return saver.save(session, str(tmp_path_factory.mktemp('start') / 'model.ckpt'))


def test_two_clones_follow_the_one_clone_trajectory(start_checkpoint):
  one_losses, one_update = _trajectory(1, start_checkpoint)
  two_losses, two_update = _trajectory(2, start_checkpoint)
  assert len(set(one_losses)) == STEPS  # The model really trains.
  np.testing.assert_allclose(two_losses, one_losses, rtol=1e-4)
  assert sorted(two_update) == sorted(one_update)
  for name, update in one_update.items():
    assert np.linalg.norm(two_update[name] - update) <= 1e-3 * np.linalg.norm(update), name


def test_variables_live_on_the_cpu_and_clones_on_their_devices():
  graph, tensors, _ = _graph(2)
  for variable in graph.get_collection('variables'):
    assert variable.device == replication.VARIABLES_DEVICE, variable.op.name
  for index in (0, 1):
    convolutions = [op for op in graph.get_operations()
                    if op.type == 'Conv2D' and op.name.startswith('clone_%d/' % index)]
    assert len(convolutions) == 21  # Root, 8 units x 2, 3 projection shortcuts, logits.
    assert {op.device for op in convolutions} == {'/device:CPU:%d' % index}


def test_only_the_first_clone_updates_batch_norm_statistics():
  graph_one, _, _ = _graph(1)
  graph_two, _, _ = _graph(2)
  one = graph_one.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
  with graph_two.as_default():
    two = replication.update_ops(replication.clones(2, True, 0)[0])
  assert len(two) == len(one) > 0
  assert all(op.name.startswith('clone_0/') for op in two)


def test_gpu_clones_without_gpus_are_refused():
  with pytest.raises(SettingError, match='^num_clones 2: this machine has 0 GPU') as raised:
    replication.clones(2, False, 0)
  assert raised.value.naming(lambda name: '--' + name).endswith(
      'add --clone_on_cpu to replicate over logical CPU devices')


def test_train_graph_with_two_cpu_clones_writes_a_checkpoint_eval_restores(
    signs_dir, tmp_path):
  train_dir = tmp_path / 'train'
  run_script('train_graph.py', '--dataset_dir', signs_dir, '--train_dir', train_dir,
             '--model_name', 'resnet_v1_18', '--batch_size', 10, '--max_number_of_steps', 3,
             '--num_clones', 2, '--clone_on_cpu')
  report = tmp_path / 'report.json'
  run_script('eval_graph.py', '--checkpoint_path', train_dir, '--dataset_dir', signs_dir,
             '--report', report)
  assert read_json(report)['num_examples'] == 30


def test_a_batch_that_does_not_split_over_the_clones_is_refused(signs_dir, tmp_path):
  result = run_script('train_graph.py', '--dataset_dir', signs_dir, '--train_dir',
                      tmp_path / 'train', '--batch_size', 9, '--num_clones', 2,
                      '--clone_on_cpu', check=False)
  assert result.returncode == 2
  assert result.stderr.strip() == (
      'error: --batch_size 9 does not split evenly over --num_clones 2')
  assert not os.listdir(tmp_path / 'train')
