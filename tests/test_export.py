"""Export for serving: the SavedModel in a fresh TF2 eager process and the frozen graph
in a fresh tf.compat.v1 session give eval_graph.py's probabilities."""

import os
import subprocess
import sys

import numpy as np
import pytest
from scriptutil import run_script

from legacy_resnet.data import signs_data
from legacy_resnet.evaluate import evaluation
from legacy_resnet.serve import export

LOAD_SAVED_MODEL = '''
import sys, numpy as np, tensorflow as tf
images = np.load(sys.argv[2])
serve = tf.saved_model.load(sys.argv[1]).signatures['serving_default']
out = serve(images=tf.constant(images))
np.save(sys.argv[3], out['probabilities'].numpy())
print(tf.executing_eagerly(), list(out['class_names'].numpy()[:1]))
'''

LOAD_FROZEN_GRAPH = '''
import sys, numpy as np, tensorflow as tf
graph_def = tf.compat.v1.GraphDef()
with open(sys.argv[1], 'rb') as stream:
  graph_def.ParseFromString(stream.read())
with tf.Graph().as_default() as graph:
  tf.compat.v1.import_graph_def(graph_def, name='')
  with tf.compat.v1.Session(graph=graph) as session:
    probabilities = session.run('probabilities:0', {'images:0': np.load(sys.argv[2])})
np.save(sys.argv[3], probabilities)
'''


@pytest.fixture(scope='module')
def ema_run(signs_dir, tmp_path_factory):
  """A short resnet_v1_18 run that keeps moving averages of its weights."""
  train_dir = tmp_path_factory.mktemp('ema_run')
  run_script('train_graph.py', '--dataset_dir', signs_dir, '--train_dir', train_dir,
             '--model_name', 'resnet_v1_18', '--batch_size', '20', '--max_number_of_steps', '3',
             '--moving_average_decay', '0.9')
  return str(train_dir)


def _run_python(code, *args):
  result = subprocess.run([sys.executable, '-c', code] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr
  return result.stdout


def test_exported_models_match_eval_graph(ema_run, signs_dir, tmp_path):
  export_dir = tmp_path / 'served'
  run_script('eval_graph.py', '--checkpoint_path', ema_run, '--export_dir', export_dir)
  images = signs_data.load_split(os.path.join(signs_dir, 'test_signs.h5')).images[:8]
  np.save(tmp_path / 'images.npy', images)
  classifier = evaluation.RestoredClassifier(ema_run)
  try:
    expected = classifier.probabilities(images)
  finally:
    classifier.close()

  stdout = _run_python(LOAD_SAVED_MODEL, export_dir, tmp_path / 'images.npy',
                       tmp_path / 'saved.npy')
  assert stdout.startswith('True')
  np.testing.assert_allclose(np.load(tmp_path / 'saved.npy'), expected, atol=1e-5)

  _run_python(LOAD_FROZEN_GRAPH, export_dir / export.FROZEN_GRAPH_FILE,
              tmp_path / 'images.npy', tmp_path / 'frozen.npy')
  np.testing.assert_allclose(np.load(tmp_path / 'frozen.npy'), expected, atol=1e-5)


def test_export_refuses_an_existing_folder(ema_run, tmp_path):
  (tmp_path / 'keep.txt').write_text('mine')
  result = run_script('eval_graph.py', '--checkpoint_path', ema_run, '--export_dir', tmp_path,
                      check=False)
  assert result.returncode == 2 and 'already exists' in result.stderr
  assert (tmp_path / 'keep.txt').read_text() == 'mine'
