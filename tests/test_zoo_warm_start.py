"""A warm start from a slim model-zoo style resnet_v2_50 checkpoint (written by tf-slim's
own net, 1001 classes with background first) with Inception preprocessing: training,
eval_graph.py and the exported SavedModel all see the same inputs."""

import os
import subprocess
import sys

import netutil
import numpy as np
import pytest
import tensorflow as tf
from scriptutil import read_json
from scriptutil import run_script
from tf_slim.nets import resnet_v2 as slim_resnet_v2

from legacy_resnet.checkpointing import checkpoints
from legacy_resnet.data import signs_data
from legacy_resnet.evaluate import evaluation

pytestmark = pytest.mark.slow  # Builds and trains resnet_v2_50 at 96 x 96.

LOAD_SAVED_MODEL = '''
import sys, numpy as np, tensorflow as tf
serve = tf.saved_model.load(sys.argv[1]).signatures['serving_default']
np.save(sys.argv[3], serve(images=tf.constant(np.load(sys.argv[2])))['probabilities'].numpy())
'''


@pytest.fixture(scope='module')
def zoo_checkpoint(tmp_path_factory):
  """A resnet_v2_50 checkpoint written by tf-slim itself: 1001 classes, random weights."""
  prefix = str(tmp_path_factory.mktemp('zoo') / 'resnet_v2_50.ckpt')
  return netutil.write_slim_checkpoint(prefix, slim_resnet_v2.resnet_v2_50, 1001)


def test_warm_start_trains_evaluates_and_exports_with_inception_preprocessing(
    zoo_checkpoint, signs_dir, tmp_path):
  train_dir = tmp_path / 'run'
  result = run_script(
      'train_graph.py', '--dataset_dir', signs_dir, '--train_dir', train_dir,
      '--model_name', 'resnet_v2_50', '--checkpoint_path', zoo_checkpoint,
      '--checkpoint_exclude_scopes', 'resnet_v2_50/logits', '--labels_offset', '1',
      '--preprocessing_name', 'inception', '--train_image_size', '96',
      '--batch_size', '30', '--max_number_of_steps', '2')
  assert '2 excluded, 0 missing, 0 shape-mismatched' in result.stdout
  tuned = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(train_dir)))
  assert tuned.get_tensor('resnet_v2_50/logits/weights').shape == (1, 1, 2048, 7)
  zoo = tf.train.load_checkpoint(zoo_checkpoint)
  assert zoo.get_tensor('resnet_v2_50/logits/weights').shape == (1, 1, 2048, 1001)

  metadata = read_json(os.path.join(train_dir, checkpoints.METADATA_FILE))
  report_path = tmp_path / 'report.json'
  run_script('eval_graph.py', '--checkpoint_path', train_dir, '--report', report_path)
  assert read_json(report_path)['loss'] == pytest.approx(metadata['last_eval']['loss'],
                                                         rel=1e-5)

  export_dir = tmp_path / 'served'
  run_script('eval_graph.py', '--checkpoint_path', train_dir, '--export_dir', export_dir)
  images = signs_data.load_split(os.path.join(signs_dir, 'test_signs.h5')).images[:4]
  np.save(tmp_path / 'images.npy', images)
  served = subprocess.run([sys.executable, '-c', LOAD_SAVED_MODEL, export_dir,
                           tmp_path / 'images.npy', tmp_path / 'served.npy'],
                          capture_output=True, text=True, timeout=600)
  assert served.returncode == 0, served.stderr
  classifier = evaluation.RestoredClassifier(str(train_dir))
  try:
    expected = classifier.probabilities(images)
  finally:
    classifier.close()
  assert expected.shape == (4, 6)
  np.testing.assert_allclose(np.load(tmp_path / 'served.npy'), expected, rtol=1e-4, atol=1e-6)
