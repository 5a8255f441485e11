"""Fine-tuning from a slim model-zoo style checkpoint (tf-slim's own resnet_v1_50 with
1000 classes) to 6 classes, with frozen scopes, and the checkpoint inspection tool."""

import netutil
import numpy as np
import pytest
import tensorflow as tf
from scriptutil import run_script
from tf_slim.nets import resnet_v1 as slim_resnet_v1

from legacy_resnet.checkpointing import checkpoints
from legacy_resnet.checkpointing import inspect_checkpoint


@pytest.fixture(scope='module')
def zoo_checkpoint(tmp_path_factory):
  """A resnet_v1_50 checkpoint written by tf-slim itself, 1000 classes, random weights."""
  prefix = str(tmp_path_factory.mktemp('zoo') / 'resnet_v1_50.ckpt')
  return netutil.write_slim_checkpoint(prefix, slim_resnet_v1.resnet_v1_50, 1000)


def test_fine_tune_restores_zoo_weights_and_freezes_scopes(zoo_checkpoint, signs_dir, tmp_path):
  result = run_script(
      'train_graph.py', '--dataset_dir', signs_dir, '--train_dir', tmp_path,
      '--checkpoint_path', zoo_checkpoint,
      '--checkpoint_exclude_scopes', 'resnet_v1_50/logits',
      '--trainable_scopes', 'resnet_v1_50/logits,resnet_v1_50/block4',
      '--batch_size', '20', '--max_number_of_steps', '2')
  assert 'warm start from %s: ' % zoo_checkpoint in result.stdout
  assert '2 excluded, 0 missing, 0 shape-mismatched' in result.stdout
  zoo = tf.train.load_checkpoint(zoo_checkpoint)
  tuned = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(tmp_path)))
  frozen = 'resnet_v1_50/block1/unit_1/bottleneck_v1/conv1/weights'
  np.testing.assert_array_equal(tuned.get_tensor(frozen), zoo.get_tensor(frozen))
  frozen_gamma = 'resnet_v1_50/block2/unit_4/bottleneck_v1/conv3/BatchNorm/gamma'
  np.testing.assert_array_equal(tuned.get_tensor(frozen_gamma), zoo.get_tensor(frozen_gamma))
  trained = 'resnet_v1_50/block4/unit_3/bottleneck_v1/conv3/weights'
  assert not np.array_equal(tuned.get_tensor(trained), zoo.get_tensor(trained))
  assert tuned.get_tensor('resnet_v1_50/logits/weights').shape == (1, 1, 2048, 6)


def test_train_dir_checkpoint_wins_over_checkpoint_path(zoo_checkpoint, signs_dir, tmp_path):
  common = ['--dataset_dir', signs_dir, '--train_dir', tmp_path, '--model_name', 'resnet_v1_18',
            '--batch_size', '20']
  run_script('train_graph.py', *common, '--max_number_of_steps', '1')
  result = run_script('train_graph.py', *common, '--max_number_of_steps', '2',
                      '--checkpoint_path', zoo_checkpoint)
  assert 'resumed from' in result.stdout and 'warm start' not in result.stdout


def test_unexcluded_shape_mismatch_is_one_clear_error(zoo_checkpoint, signs_dir, tmp_path):
  result = run_script('train_graph.py', '--dataset_dir', signs_dir, '--train_dir', tmp_path,
                      '--checkpoint_path', zoo_checkpoint, '--max_number_of_steps', '1',
                      check=False)
  assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
  assert 'resnet_v1_50/logits/weights [1, 1, 2048, 1000] (model [1, 1, 2048, 6])' in result.stderr


def test_inspect_compares_a_checkpoint_with_a_model(zoo_checkpoint):
  report = inspect_checkpoint.compare(zoo_checkpoint, 'resnet_v1_50', 6, 64, [])
  assert report.shape_mismatched == [
      'resnet_v1_50/logits/weights [1, 1, 2048, 1000] (model [1, 1, 2048, 6])',
      'resnet_v1_50/logits/biases [1000] (model [6])']
  assert len(report.restored) == len(checkpoints.variable_shapes(zoo_checkpoint)) - 2
  other = inspect_checkpoint.compare(zoo_checkpoint, 'resnet_v1_101', 1000, 64, [])
  assert other.missing and not other.restored


def test_inspect_lists_variables(zoo_checkpoint, capsys):
  assert inspect_checkpoint.main([zoo_checkpoint]) is None
  out = capsys.readouterr().out
  assert 'resnet_v1_50/logits/weights [1, 1, 2048, 1000]' in out
  assert out.strip().endswith('variables in %s' % zoo_checkpoint)
