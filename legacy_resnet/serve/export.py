"""Exports a trained classifier for serving: a SavedModel with a 'serving_default'
signature, a frozen inference GraphDef and, with tf2onnx, an ONNX model (docs/export.md).
All map ``images`` float32 [N, H, W, 3] in [0, 1] to ``probabilities`` float32 [N, C],
``classes`` int64 [N] and ``class_names`` string [N] (tensors of these names)."""

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


def onnx_model(graph_def, input_names=(INPUT_NAME + ':0',),
               output_names=tuple(name + ':0' for name in OUTPUT_NAMES)):
  """The ONNX ModelProto of a frozen ``graph_def`` (same tensor names, unknown dimensions
  dynamic); a UsageError when tf2onnx is missing."""
  tf2onnx = serving_packages.require('tf2onnx', '{export_dir}')
  model, _ = tf2onnx.convert.from_graph_def(
      graph_def, input_names=list(input_names), output_names=list(output_names),
      opset=ONNX_OPSET)
  return model


def serving_graph_def(classifier):
  """(frozen GraphDef from ``images`` to the serving outputs, the same with its batch
  norms folded) of a RestoredClassifier made with ``finalize=False``."""
  with classifier.graph.as_default():
    probabilities = tf.identity(classifier.tensors.eval_probabilities, name='probabilities')
    classes = tf.argmax(probabilities, 1, name='classes')
    tf.gather(tf.constant(classifier.class_names), classes, name='class_names')
  frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
      classifier.session, classifier.graph.as_graph_def(), list(OUTPUT_NAMES))
  folded, _ = inference_graph.fold_batch_norms(frozen, OUTPUT_NAMES)
  return frozen, folded


def serving_onnx_model(classifier):
  """The ONNX ModelProto of ``serving_graph_def(classifier)``'s folded graph."""
  return onnx_model(serving_graph_def(classifier)[1])


def export(checkpoint_path, export_dir):
  """Writes the serving files of ``checkpoint_path`` to the new folder ``export_dir``
  (whole or not at all); returns the names of the files beside the SavedModel."""
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
      frozen, folded = serving_graph_def(classifier)
      signature = tf.compat.v1.saved_model.predict_signature_def(
          {INPUT_NAME: classifier.tensors.images},
          {name: classifier.graph.get_tensor_by_name(name + ':0') for name in OUTPUT_NAMES})
      builder = tf.compat.v1.saved_model.Builder(temporary)
      builder.add_meta_graph_and_variables(
          classifier.session, [tf.compat.v1.saved_model.tag_constants.SERVING],
          signature_def_map={'serving_default': signature}, strip_default_attrs=True)
      builder.save()
      with open(os.path.join(temporary, FROZEN_GRAPH_FILE), 'wb') as stream:
        stream.write(frozen.SerializeToString())
      wrote_onnx = serving_packages.available('tf2onnx')
      if wrote_onnx:
        with open(os.path.join(temporary, ONNX_FILE), 'wb') as stream:
          stream.write(onnx_model(folded).SerializeToString())
      else:
        print('note: %s not written: tf2onnx is not installed (%s)'
              % (ONNX_FILE, serving_packages.INSTALL_COMMAND), file=sys.stderr)
    os.rename(temporary, export_dir)
  except OSError as error:
    raise SettingError('{export_dir} %s: %s', export_dir, error.strerror) from None
  finally:
    classifier.close()
    shutil.rmtree(temporary, ignore_errors=True)
  return [FROZEN_GRAPH_FILE] + ([ONNX_FILE] if wrote_onnx else [])
