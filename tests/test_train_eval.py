"""train_graph.py and eval_graph.py end to end, as real subprocesses on a tiny
SIGNS-format dataset: checkpoints, resume, moving averages, dense features."""

import math
import os
import shutil

import h5py
import numpy as np
import pytest
import tensorflow as tf
from scriptutil import read_json
from scriptutil import run_script

from legacy_resnet.checkpointing import checkpoints
from legacy_resnet.evaluate import evaluation
from legacy_resnet.graph import model_graph

SMALL_RUN = ['--model_name', 'resnet_v1_18', '--batch_size', '20', '--num_epochs', '2']


@pytest.fixture(scope='module')
def trained_dir(signs_dir, tmp_path_factory):
  """A finished 2-epoch resnet_v1_18 run (4 steps on the 54 images left for training)."""
  train_dir = str(tmp_path_factory.mktemp('run'))
  run_script('train_graph.py', '--dataset_dir', signs_dir, '--train_dir', train_dir, *SMALL_RUN)
  return train_dir


def test_training_writes_checkpoints_metadata_and_summaries(trained_dir):
  assert checkpoints.global_step(tf.train.latest_checkpoint(trained_dir)) == 4
  metadata = read_json(os.path.join(trained_dir, checkpoints.METADATA_FILE))
  assert metadata['model_name'] == 'resnet_v1_18'
  assert metadata['class_names'] == ['0', '1', '2', '3', '4', '5']
  assert metadata['image_size'] == [64, 64]
  assert tf.train.latest_checkpoint(os.path.join(trained_dir, checkpoints.BEST_SUBDIR))
  assert any(name.startswith('events.out.tfevents') for name in os.listdir(trained_dir))


def test_eval_reproduces_in_session_accuracy_and_loss(trained_dir, tmp_path):
  report_path = tmp_path / 'report.json'
  result = run_script('eval_graph.py', '--checkpoint_path', trained_dir, '--report', report_path)
  report = read_json(report_path)
  in_session = read_json(os.path.join(trained_dir, checkpoints.METADATA_FILE))['test']
  assert report['accuracy'] == in_session['accuracy']
  assert report['loss'] == pytest.approx(in_session['loss'], rel=1e-5)
  assert report['global_step'] == 4 and report['num_examples'] == 30
  assert set(report) >= {'accuracy', 'loss', 'num_examples', 'confusion_matrix', 'per_class',
                         'checkpoint', 'global_step'}
  assert np.sum(report['confusion_matrix']) == 30
  assert 'confusion matrix' in result.stdout


def test_eval_of_a_dataset_file_with_train_keys(trained_dir, signs_dir):
  result = run_script('eval_graph.py', '--checkpoint_path', trained_dir, '--dataset_file',
                      os.path.join(signs_dir, 'train_signs.h5'))
  assert 'examples 60' in result.stdout


def test_rerun_resumes_from_latest_checkpoint(signs_dir, tmp_path):
  common = ['--dataset_dir', signs_dir, '--train_dir', tmp_path] + SMALL_RUN
  run_script('train_graph.py', *common, '--max_number_of_steps', '2')
  assert checkpoints.global_step(tf.train.latest_checkpoint(str(tmp_path))) == 2
  result = run_script('train_graph.py', *common, '--max_number_of_steps', '5')
  assert 'resumed from' in result.stdout
  assert checkpoints.global_step(tf.train.latest_checkpoint(str(tmp_path))) == 5
  checkpoint_files = sorted(name for name in os.listdir(tmp_path) if 'ckpt' in name)
  result = run_script('train_graph.py', *common, '--max_number_of_steps', '5')
  assert 'has already reached the final step; nothing to do' in result.stdout
  assert sorted(name for name in os.listdir(tmp_path) if 'ckpt' in name) == checkpoint_files


def test_same_seed_gives_same_losses(signs_dir, tmp_path):
  losses = []
  for name in ('a', 'b'):
    run_script('train_graph.py', '--dataset_dir', signs_dir, '--train_dir', tmp_path / name,
               *SMALL_RUN, '--max_number_of_steps', '3')
    losses.append(read_json(tmp_path / name / checkpoints.METADATA_FILE)['last_eval']['loss'])
  assert losses[0] == losses[1]


def test_moving_average_weights_are_restored_for_evaluation(signs_dir, tmp_path):
  run_script('train_graph.py', '--dataset_dir', signs_dir, '--train_dir', tmp_path, *SMALL_RUN,
             '--moving_average_decay', '0.9')
  prefix = tf.train.latest_checkpoint(str(tmp_path))
  assert any(name.endswith('/ExponentialMovingAverage')
             for name in checkpoints.variable_shapes(prefix))
  report = read_json(tmp_path / checkpoints.METADATA_FILE)['test']
  run_script('eval_graph.py', '--checkpoint_path', tmp_path, '--report', tmp_path / 'r.json')
  assert read_json(tmp_path / 'r.json')['loss'] == pytest.approx(report['loss'], rel=1e-5)
  raw = _raw_weights_loss(prefix, signs_dir)
  assert raw != pytest.approx(report['loss'], rel=1e-3)


def _raw_weights_loss(prefix, signs_dir):
  """Held-out loss of the checkpoint's raw (not averaged) weights."""
  from legacy_resnet.data import signs_data  # pylint: disable=import-outside-toplevel
  split = signs_data.load_split(os.path.join(signs_dir, 'test_signs.h5'), 'test')
  with tf.Graph().as_default():
    tensors = model_graph.build_classifier('resnet_v1_18', 6, (64, 64))
    saver = tf.compat.v1.train.Saver(model_graph.variables_to_restore(None))
    with tf.compat.v1.Session() as session:
      saver.restore(session, prefix)
      probabilities = evaluation.predict(session, tensors.eval_probabilities, tensors.images,
                                         split.images)
  picked = probabilities[np.arange(len(split.labels)), split.labels]
  return float(-np.mean(np.log(picked)))


def test_resnet50_signs_trains_and_evaluates(signs_dir, tmp_path):
  run_script('train_graph.py', '--dataset_dir', signs_dir, '--train_dir', tmp_path,
             '--model_name', 'resnet50_signs', '--batch_size', '20', '--max_number_of_steps', '2')
  result = run_script('eval_graph.py', '--checkpoint_path', tmp_path)
  assert 'examples 30' in result.stdout


@pytest.mark.parametrize('output_stride', [8, 16])
def test_dense_features_on_the_dataset(trained_dir, tmp_path, output_stride):
  out = tmp_path / 'features.h5'
  run_script('eval_graph.py', '--checkpoint_path', trained_dir, '--dense_features', out,
             '--output_stride', output_stride)
  with h5py.File(out, 'r') as features:
    side = math.ceil(64 / output_stride)
    assert features['features'].shape == (30, side, side, 512)
    assert features.attrs['output_stride'] == output_stride
    assert len(features['labels']) == 30


def test_dense_features_on_images_of_any_size(trained_dir, tmp_path):
  paths = []
  for index in range(2):
    pixels = np.random.default_rng(index).integers(0, 255, (97, 81, 3), dtype=np.uint8)
    paths.append(tmp_path / ('image%d.png' % index))
    tf.io.write_file(str(paths[-1]), tf.io.encode_png(pixels))
  out = tmp_path / 'features.h5'
  run_script('eval_graph.py', '--checkpoint_path', trained_dir, '--dense_features', out,
             '--output_stride', '8', '--images', *paths)
  with h5py.File(out, 'r') as features:
    assert features['features'].shape == (2, math.ceil(97 / 8), math.ceil(81 / 8), 512)


@pytest.mark.parametrize('flag, output', [('--dense_features', 'features.h5'),
                                          ('--heatmaps', 'maps')])
def test_dense_paths_refuse_a_network_that_is_not_fully_convolutional(trained_dir, tmp_path,
                                                                     flag, output):
  signs = tmp_path / 'signs'  # Refused on its declaration, before any graph is built.
  shutil.copytree(trained_dir, signs)
  metadata = read_json(signs / checkpoints.METADATA_FILE)
  checkpoints.write_metadata(str(signs), dict(metadata, model_name='resnet50_signs'))
  result = run_script('eval_graph.py', '--checkpoint_path', signs, flag, tmp_path / output,
                      check=False)
  assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
  assert result.stderr.startswith('error: %s: resnet50_signs has no fully convolutional mode'
                                  % flag)
  assert not (tmp_path / 'features.h5').exists()


def test_predictions_for_image_files(trained_dir, tmp_path):
  path = tmp_path / 'sign.jpg'
  pixels = np.random.default_rng(0).integers(0, 255, (120, 90, 3), dtype=np.uint8)
  tf.io.write_file(str(path), tf.io.encode_jpeg(pixels))
  result = run_script('eval_graph.py', '--checkpoint_path', trained_dir, '--images', path,
                      '--top_k', '2')
  line = result.stdout.strip().splitlines()[-1]
  assert line.startswith(str(path)) and line.count(',') == 1


def test_checkpoint_of_another_model_is_one_clear_error(trained_dir, tmp_path):
  foreign = tmp_path / 'foreign'
  shutil.copytree(trained_dir, foreign)
  metadata = read_json(foreign / checkpoints.METADATA_FILE)
  metadata['model_name'] = 'resnet_v1_34'
  checkpoints.write_metadata(str(foreign), metadata)
  result = run_script('eval_graph.py', '--checkpoint_path', foreign, check=False)
  assert result.returncode == 2
  assert result.stderr.startswith('error: ') and len(result.stderr.splitlines()) == 1
  assert 'does not fit this model' in result.stderr and 'resnet_v1_34/block' in result.stderr


def test_resuming_with_another_model_is_one_clear_error(trained_dir, signs_dir, tmp_path):
  shutil.copytree(trained_dir, tmp_path / 'run')
  result = run_script('train_graph.py', '--dataset_dir', signs_dir, '--train_dir',
                      tmp_path / 'run', '--model_name', 'resnet_v1_34', check=False)
  assert result.returncode == 2 and 'model_name' in result.stderr
  assert len(result.stderr.splitlines()) == 1
