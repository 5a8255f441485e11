"""The run's input pipeline (preprocessing.InputPipeline): how train_graph.py's
--preprocessing_name, --train_image_size, --eval_image_size and --labels_offset reach
the network, the run's metadata, eval_graph.py, dense features and the export."""

import json
import math
import os

import h5py
import netutil
import numpy as np
import pytest
import tensorflow as tf
from scriptutil import read_json
from scriptutil import run_script

from legacy_resnet.checkpointing import checkpoints
from legacy_resnet.data import preprocessing
from legacy_resnet.data.preprocessing import InputPipeline
from legacy_resnet.graph import model_graph
from legacy_resnet.programs import train_cli

pytestmark = netutil.QUIET


def _settings(*flags):
  """The input settings of train_graph.py's ``flags``."""
  return train_cli.settings_of(list(flags)).input


def test_flags_make_the_pipeline_and_eval_size_defaults_to_train_size():
  assert InputPipeline.from_settings(_settings()) == preprocessing.DEFAULT_PIPELINE
  assert InputPipeline.from_settings(_settings(
      '--preprocessing_name', 'inception', '--train_image_size', '224', '--labels_offset', '1')
  ) == InputPipeline('inception', 224, 224, 1)
  assert InputPipeline.from_settings(_settings(
      '--preprocessing_name', 'vgg', '--train_image_size', '224', '--eval_image_size', '256')
  ) == InputPipeline('vgg', 224, 256, 0)


@pytest.mark.parametrize('flags', [['--preprocessing_name', 'lenet'], ['--train_image_size', '0'],
                                   ['--labels_offset', '-1']])
def test_bad_preprocessing_flags_are_usage_errors(flags):
  with pytest.raises(SystemExit) as exit_info:
    _settings(*flags)
  assert exit_info.value.code == 2


def test_metadata_records_only_a_non_default_pipeline_and_reads_it_back():
  assert preprocessing.DEFAULT_PIPELINE.metadata_entries() == {}
  assert InputPipeline.from_metadata({'model_name': 'resnet_v1_18'}) == (
      preprocessing.DEFAULT_PIPELINE)
  pipeline = InputPipeline('vgg', 224, 256, 1)
  recorded = json.loads(json.dumps(pipeline.metadata_entries()))
  assert recorded == {'preprocessing': {'name': 'vgg', 'train_image_size': 224,
                                        'eval_image_size': 256, 'labels_offset': 1}}
  assert InputPipeline.from_metadata(recorded) == pipeline


def _wrapped_fake_network(pipeline, **call_args):
  """Runs ``pipeline.wrap`` around a network that records its inputs and returns
  the mean of each input channel as logits; returns (inputs, logits, predictions)."""
  seen = {}

  def network(inputs, is_training, **network_args):
    seen['inputs'] = inputs
    logits = tf.reduce_mean(inputs, [1, 2])
    return logits, {'predictions': tf.nn.softmax(logits)}

  images = np.random.default_rng(0).uniform(0, 1, (2, 64, 64, 3)).astype(np.float32)
  with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
    logits, end_points = pipeline.wrap(network)(tf.constant(images), **call_args)
    return sess.run([seen['inputs'], logits, end_points['predictions']]), images


def test_wrap_uses_the_train_size_when_training_and_the_eval_size_otherwise():
  pipeline = InputPipeline('inception', 48, 56, 0)
  (train_inputs, _, _), _ = _wrapped_fake_network(pipeline, is_training=True)
  (eval_inputs, _, _), images = _wrapped_fake_network(pipeline, is_training=False)
  assert train_inputs.shape == (2, 48, 48, 3)
  # The 64 x 64 images' central 56 x 56, scaled to [-1, 1], needs no resize.
  np.testing.assert_allclose(eval_inputs, images[:, 4:60, 4:60] * 2 - 1, atol=1e-6)


def test_wrap_in_fcn_mode_keeps_the_image_size_and_transforms_pixels():
  (inputs, _, _), images = _wrapped_fake_network(InputPipeline('vgg', 224, 224, 0),
                                                 is_training=False, global_pool=False)
  np.testing.assert_allclose(inputs, images * 255 - np.array([123.68, 116.78, 103.94]),
                             atol=1e-4)


def test_wrap_drops_the_first_labels_offset_logits():
  (_, logits, predictions), images = _wrapped_fake_network(InputPipeline('signs', None, None, 1),
                                                           is_training=False)
  np.testing.assert_allclose(logits, images.mean(axis=(1, 2))[:, 1:], atol=1e-6)
  exponentials = np.exp(logits - logits.max(axis=1, keepdims=True))
  np.testing.assert_allclose(predictions, exponentials / exponentials.sum(axis=1, keepdims=True),
                             atol=1e-6)


def test_default_pipeline_leaves_the_network_function_itself():
  def network(images, is_training):
    return images, {}
  assert preprocessing.DEFAULT_PIPELINE.wrap(network) is network


def test_network_has_labels_offset_more_outputs_than_classes():
  with tf.Graph().as_default():
    tensors = model_graph.build_classifier('resnet_v2_18', 6, (64, 64),
                                           InputPipeline('inception', 32, 32, 1))
    weights = netutil.variables_named('resnet_v2_18/logits/weights')[0]
    assert weights.get_shape().as_list() == [1, 1, 512, 7]
    assert tensors.logits.get_shape().as_list() == [None, 6]
    assert tensors.end_points['resnet_v2_18/conv1'].get_shape().as_list() == [None, 16, 16, 64]


@pytest.fixture(scope='module')
def inception_run(signs_dir, tmp_path_factory):
  """A 2-step resnet_v2_18 run with Inception preprocessing at 48 x 48 and one
  leading background logit."""
  train_dir = str(tmp_path_factory.mktemp('inception_run'))
  run_script('train_graph.py', '--dataset_dir', signs_dir, '--train_dir', train_dir,
             '--model_name', 'resnet_v2_18', '--batch_size', '30', '--max_number_of_steps', '2',
             '--preprocessing_name', 'inception', '--train_image_size', '48',
             '--labels_offset', '1')
  return train_dir


def test_eval_applies_the_recorded_pipeline(inception_run, tmp_path):
  metadata = read_json(os.path.join(inception_run, checkpoints.METADATA_FILE))
  assert metadata['preprocessing'] == {'name': 'inception', 'train_image_size': 48,
                                       'eval_image_size': 48, 'labels_offset': 1}
  report_path = tmp_path / 'report.json'
  run_script('eval_graph.py', '--checkpoint_path', inception_run, '--report', report_path)
  report = read_json(report_path)
  assert report['accuracy'] == metadata['last_eval']['accuracy']
  assert report['loss'] == pytest.approx(metadata['last_eval']['loss'], rel=1e-5)
  assert np.array(report['confusion_matrix']).shape == (6, 6)


def test_dense_features_with_multi_grid(inception_run, tmp_path):
  out = tmp_path / 'features.h5'
  run_script('eval_graph.py', '--checkpoint_path', inception_run, '--dense_features', out,
             '--output_stride', '8', '--multi_grid', '1', '2')
  with h5py.File(out, 'r') as features:
    assert features['features'].shape == (30, math.ceil(64 / 8), math.ceil(64 / 8), 512)
    assert list(features.attrs['multi_grid']) == [1, 2]


def test_multi_grid_of_the_wrong_length_is_one_clear_error(inception_run, tmp_path):
  result = run_script('eval_graph.py', '--checkpoint_path', inception_run, '--dense_features',
                      tmp_path / 'features.h5', '--multi_grid', '1', '2', '4', check=False)
  assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
  assert result.stderr.startswith('error: --multi_grid: multi_grid needs 2 positive integer')
  assert not os.path.exists(tmp_path / 'features.h5')
