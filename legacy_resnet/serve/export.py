"""Exports a trained classifier for serving: a SavedModel with a 'serving_default'
signature, beside it a frozen inference GraphDef for TF1 consumers and, when tf2onnx
is installed (requirements-serve.txt), the same graph as an ONNX model.

Signature: ``images`` float32 [N, H, W, 3] in [0, 1] (H, W: the trained size) ->
``probabilities`` float32 [N, C], ``classes`` int64 [N], ``class_names`` string [N].
The frozen graph (``frozen_inference_graph.pb``) has the same tensors by name:
``images:0`` -> ``probabilities:0``, ``classes:0``, ``class_names:0``; so has
``model.onnx`` (made from the frozen graph with its batch norms folded, N dynamic).
"""

import os
import shutil
import sys

import tensorflow as tf

from legacy_resnet.evaluate import evaluation
from legacy_resnet.graph import inference_graph
from legacy_resnet.core.errors import SettingError
from legacy_resnet.serve import serving_packages

FROZEN_GRAPH_FILE = 'frozen_inference_graph.pb'
ONNX_FILE = 'model.onnx'
OUTPUT_NAMES = ('probabilities', 'classes', 'class_names')
INPUT_NAME = 'images'
# Opset 17 is read by every ONNX Runtime and OpenVINO release of the last years.
ONNX_OPSET = 17


def _serving_outputs(classifier):
  probabilities = tf.identity(classifier.tensors.eval_probabilities, name='probabilities')
  classes = tf.argmax(probabilities, 1, name='classes')
  class_names = tf.gather(tf.constant(classifier.class_names), classes, name='class_names')
  return {'probabilities': probabilities, 'classes': classes, 'class_names': class_names}


def onnx_model(graph_def, input_names, output_names):
  """The ONNX ModelProto of a frozen ``graph_def`` (variables made constants), through
  tf2onnx; tensor names (``'images:0'``) stay the same and unknown dimensions stay
  dynamic. A UsageError naming the install command when tf2onnx is missing."""
  tf2onnx = serving_packages.require('tf2onnx', '{export_dir}')
  model, _ = tf2onnx.convert.from_graph_def(
      graph_def, input_names=list(input_names), output_names=list(output_names),
      opset=ONNX_OPSET)
  return model


def serving_graph_def(classifier):
  """(frozen GraphDef from ``images`` to the serving outputs, the same with its batch
  norms folded) of a RestoredClassifier made with ``finalize=False``."""
  with classifier.graph.as_default():
    _serving_outputs(classifier)
  frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
      classifier.session, classifier.graph.as_graph_def(), list(OUTPUT_NAMES))
  folded, _ = inference_graph.fold_batch_norms(frozen, OUTPUT_NAMES)
  return frozen, folded


def serving_onnx_model(classifier):
  """The ONNX ModelProto of ``serving_graph_def(classifier)``'s folded graph."""
  _, folded = serving_graph_def(classifier)
  return onnx_model(folded, [INPUT_NAME + ':0'], [name + ':0' for name in OUTPUT_NAMES])


def _write(classifier, folder):
  frozen, folded = serving_graph_def(classifier)
  graph = classifier.graph
  signature = tf.compat.v1.saved_model.predict_signature_def(
      {'images': classifier.tensors.images},
      {name: graph.get_tensor_by_name(name + ':0') for name in OUTPUT_NAMES})
  builder = tf.compat.v1.saved_model.Builder(folder)
  builder.add_meta_graph_and_variables(
      classifier.session, [tf.compat.v1.saved_model.tag_constants.SERVING],
      signature_def_map={'serving_default': signature}, strip_default_attrs=True)
  builder.save()
  with open(os.path.join(folder, FROZEN_GRAPH_FILE), 'wb') as stream:
    stream.write(frozen.SerializeToString())
  if not serving_packages.available('tf2onnx'):
    print('note: %s not written: tf2onnx is not installed (%s)'
          % (ONNX_FILE, serving_packages.INSTALL_COMMAND), file=sys.stderr)
    return False
  model = onnx_model(folded, [INPUT_NAME + ':0'], [name + ':0' for name in OUTPUT_NAMES])
  with open(os.path.join(folder, ONNX_FILE), 'wb') as stream:
    stream.write(model.SerializeToString())
  return True


def export(checkpoint_path, export_dir):
  """Writes the SavedModel, frozen graph and (with tf2onnx) ONNX model of
  ``checkpoint_path`` to ``export_dir``, which must not exist yet (it appears whole or
  not at all). Returns the names of the files beside the SavedModel."""
  if os.path.exists(export_dir):
    raise SettingError('{export_dir} %s already exists; choose a new folder', export_dir)
  parent = os.path.dirname(os.path.abspath(export_dir))
  if not os.path.isdir(parent):
    raise SettingError('{export_dir} %s: folder %s does not exist', export_dir, parent)
  temporary = export_dir.rstrip('/') + '.partial'
  shutil.rmtree(temporary, ignore_errors=True)
  classifier = evaluation.RestoredClassifier(checkpoint_path, finalize=False)
  try:
    with classifier.graph.as_default():
      wrote_onnx = _write(classifier, temporary)
    os.rename(temporary, export_dir)
  except OSError as error:
    raise SettingError('{export_dir} %s: %s', export_dir, error.strerror) from None
  finally:
    classifier.close()
    shutil.rmtree(temporary, ignore_errors=True)
  return [FROZEN_GRAPH_FILE] + ([ONNX_FILE] if wrote_onnx else [])
