"""Serving outside TensorFlow: the exported model.onnx and eval_graph.py --runtime give
the restored checkpoint's probabilities, for every batch size (and, for dense features,
every image size); a missing runtime is one error line.

Needs the packages of requirements-serve.txt (CI installs them); without them only the
missing-package test runs.
"""

import os
import sys

import netutil
import numpy as np
import pytest
from scriptutil import ROOT
from scriptutil import read_json
from scriptutil import run_script

from legacy_resnet.checkpointing import checkpoints
from legacy_resnet.data import signs_data
from legacy_resnet.evaluate import calibration
from legacy_resnet.evaluate import evaluation
from legacy_resnet.graph import inference_graph
from legacy_resnet.serve import export
from legacy_resnet.serve import runtimes
from legacy_resnet.serve import serving_packages

SERVING = pytest.mark.skipif(
    not all(serving_packages.available(name)
            for name in ('tf2onnx', 'onnxruntime', 'openvino')),
    reason='serving packages missing: %s' % serving_packages.INSTALL_COMMAND)
# One line per network family; each is trained for one step and exported.
MODELS = ['resnet_v1_18', 'resnet_v1_50']


@pytest.fixture(scope='module', params=MODELS)
def exported(request, signs_dir, tmp_path_factory):
  """(train dir of a one-step run of the model, its --export_dir folder)."""
  folder = tmp_path_factory.mktemp(request.param)
  train_dir, export_dir = folder / 'train', folder / 'served'
  run_script('train_graph.py', '--dataset_dir', signs_dir, '--train_dir', train_dir,
             '--model_name', request.param, '--batch_size', '20',
             '--max_number_of_steps', '1')
  run_script('eval_graph.py', '--checkpoint_path', train_dir, '--export_dir', export_dir)
  return str(train_dir), export_dir


def _held_out(signs_dir):
  return signs_data.load_split(os.path.join(signs_dir, 'test_signs.h5')).images


def _onnx_runs(model, *names):
  """{runtime: run(images) -> output} for a serialized ONNX model (``names``: input and
  output tensor, default the serving model's images and probabilities)."""
  return {'onnxruntime': runtimes.OnnxRuntimeModel(model, 2, *names),
          'openvino': runtimes.OpenVinoModel(model, 2, *names)}


@SERVING
def test_model_onnx_matches_the_checkpoint(exported, signs_dir):
  train_dir, export_dir = exported
  images = _held_out(signs_dir)
  classifier = evaluation.RestoredClassifier(train_dir)
  try:
    expected = classifier.probabilities(images)
    model_name = classifier.metadata['model_name']
  finally:
    classifier.close()
  with open(export_dir / export.ONNX_FILE, 'rb') as stream:
    runs = _onnx_runs(stream.read())
  for runtime, run in runs.items():
    worst = 0.0
    for batch in (1, 7, len(images)):  # The batch dimension is dynamic.
      actual = np.concatenate([run(images[start:start + batch])
                               for start in range(0, len(images), batch)])
      netutil.assert_relatively_close(actual, expected, 1e-4)
      worst = max(worst, netutil.relative_error(actual, expected))
    print('%s %s: worst relative error %.2e' % (model_name, runtime, worst))


@SERVING
def test_dense_features_onnx_take_any_image_size(exported):
  train_dir, _ = exported
  classifier = evaluation.RestoredClassifier(
      train_dir, image_size=(None, None), finalize=False,
      network_args={'global_pool': False, 'output_stride': 16})
  try:
    features = evaluation.last_block(classifier)
    frozen = inference_graph.FrozenOutput(classifier.session, classifier.tensors.images,
                                          features, classifier.config)
    graph_def = frozen.session.graph.as_graph_def()
    frozen.session.close()
    model = export.onnx_model(graph_def, [classifier.tensors.images.name],
                              [features.name]).SerializeToString()
    runs = _onnx_runs(model, classifier.tensors.images.name, features.name)
    for height, width in ((48, 64), (72, 40)):
      images = netutil.random_images(2, height, width, seed=height)
      images = (images - images.min()) / (images.max() - images.min())
      expected = classifier.session.run(features, {classifier.tensors.images: images})
      for runtime, run in runs.items():
        actual = run(images)
        netutil.assert_relatively_close(actual, expected, 1e-4)
        print('%s dense %dx%d %s: relative error %.2e' % (
            classifier.metadata['model_name'], height, width, runtime,
            netutil.relative_error(actual, expected)))
  finally:
    classifier.close()


@SERVING
@pytest.mark.parametrize('runtime', ['onnxruntime', 'openvino'])
def test_eval_graph_runtime_gives_tensorflow_results(exported, signs_dir, runtime, tmp_path):
  train_dir, _ = exported
  prefix = checkpoints.resolve(train_dir)
  if checkpoints.read_metadata(prefix)['model_name'] != MODELS[0]:
    pytest.skip('the command line is the same for every model; the first shows it')
  image = tmp_path / 'sign.png'
  _write_png(image, _held_out(signs_dir)[0])
  classifier = evaluation.RestoredClassifier(train_dir)
  try:
    split = signs_data.load_split(os.path.join(signs_dir, 'test_signs.h5'))
    expected = evaluation.evaluate(classifier, split)
    temperature, threshold, _ = calibration.from_metadata(classifier.metadata, train_dir)
    [(_, ranked)] = evaluation.top_predictions(classifier, [str(image)], 6, temperature)
  finally:
    classifier.close()
  run_script('eval_graph.py', '--checkpoint_path', train_dir, '--runtime', runtime,
             '--dataset_dir', signs_dir, '--report', tmp_path / 'report.json')
  assert os.path.exists(prefix + runtimes.ONNX_SUFFIX)  # Kept for the next run.
  report = read_json(tmp_path / 'report.json')
  assert report.pop('loss') == pytest.approx(expected.pop('loss'), rel=1e-4)
  assert {key: report[key] for key in expected} == expected
  assert 0 <= report['expected_calibration_error'] <= 1
  shown = run_script('eval_graph.py', '--checkpoint_path', train_dir, '--runtime', runtime,
                     '--images', image, '--top_k', '6').stdout
  mark = '  not sure' if threshold is not None and ranked[0][1] < threshold else ''
  assert shown.strip().splitlines()[-1] == '%s: %s%s' % (
      image, ', '.join('%s %.3f' % pair for pair in ranked), mark)


def _write_png(path, image):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.io.write_file(str(path), tf.io.encode_png(tf.cast(tf.round(image * 255), tf.uint8)))


MISSING_RUNTIME = '''
import runpy, sys
sys.modules[sys.argv[1]] = None  # As if not installed.
sys.argv = ['eval_graph.py'] + sys.argv[2:]
runpy.run_path('eval_graph.py', run_name='__main__')
'''


@pytest.mark.parametrize('runtime', ['onnxruntime', 'openvino'])
def test_a_missing_runtime_is_one_error_line(runtime, tmp_path):
  import subprocess  # pylint: disable=g-import-not-at-top
  (tmp_path / 'checkpoint').write_text('model_checkpoint_path: "model.ckpt-1"\n')
  result = subprocess.run(
      [sys.executable, '-c', MISSING_RUNTIME, runtime, '--checkpoint_path', str(tmp_path),
       '--runtime', runtime], capture_output=True, text=True, cwd=ROOT, timeout=300)
  assert result.returncode == 2, result.stderr
  assert result.stderr.strip().splitlines() == [
      'error: --runtime %s needs %s, which is not installed; install it with: %s'
      % (runtime, runtime, serving_packages.INSTALL_COMMAND)]


@pytest.mark.parametrize('flag', ['--export_dir', '--dense_features', '--heatmaps'])
def test_other_runtimes_leave_export_and_dense_features_to_tensorflow(flag, tmp_path):
  result = run_script('eval_graph.py', '--checkpoint_path', tmp_path, '--runtime',
                      'onnxruntime', flag, tmp_path / 'out', check=False)
  assert result.returncode == 2
  assert result.stderr.strip().splitlines() == [
      'error: --runtime onnxruntime runs evaluation and --images only; --export_dir, '
      '--dense_features and --heatmaps use TensorFlow']
