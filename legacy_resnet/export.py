"""Exports a trained classifier for serving: a SavedModel with a 'serving_default'
signature and, beside it, a frozen inference GraphDef for TF1 consumers.

Signature: ``images`` float32 [N, H, W, 3] in [0, 1] (H, W: the trained size) ->
``probabilities`` float32 [N, C], ``classes`` int64 [N], ``class_names`` string [N].
The frozen graph (``frozen_inference_graph.pb``) has the same tensors by name:
``images:0`` -> ``probabilities:0``, ``classes:0``, ``class_names:0``.
"""

import os
import shutil

import tensorflow as tf

from legacy_resnet import evaluation
from legacy_resnet.errors import UsageError

FROZEN_GRAPH_FILE = 'frozen_inference_graph.pb'
OUTPUT_NAMES = ('probabilities', 'classes', 'class_names')


def _serving_outputs(classifier):
  probabilities = tf.identity(classifier.tensors.eval_probabilities, name='probabilities')
  classes = tf.argmax(probabilities, 1, name='classes')
  class_names = tf.gather(tf.constant(classifier.class_names), classes, name='class_names')
  return {'probabilities': probabilities, 'classes': classes, 'class_names': class_names}


def _write(classifier, folder):
  outputs = _serving_outputs(classifier)
  signature = tf.compat.v1.saved_model.predict_signature_def(
      {'images': classifier.tensors.images}, outputs)
  builder = tf.compat.v1.saved_model.Builder(folder)
  builder.add_meta_graph_and_variables(
      classifier.session, [tf.compat.v1.saved_model.tag_constants.SERVING],
      signature_def_map={'serving_default': signature}, strip_default_attrs=True)
  builder.save()
  frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
      classifier.session, classifier.graph.as_graph_def(), list(OUTPUT_NAMES))
  with open(os.path.join(folder, FROZEN_GRAPH_FILE), 'wb') as stream:
    stream.write(frozen.SerializeToString())


def export(checkpoint_path, export_dir):
  """Writes the SavedModel and frozen graph of ``checkpoint_path`` to ``export_dir``,
  which must not exist yet (it appears whole or not at all)."""
  if os.path.exists(export_dir):
    raise UsageError('--export_dir %s already exists; choose a new folder' % export_dir)
  parent = os.path.dirname(os.path.abspath(export_dir))
  if not os.path.isdir(parent):
    raise UsageError('--export_dir %s: folder %s does not exist' % (export_dir, parent))
  temporary = export_dir.rstrip('/') + '.partial'
  shutil.rmtree(temporary, ignore_errors=True)
  classifier = evaluation.RestoredClassifier(checkpoint_path, finalize=False)
  try:
    with classifier.graph.as_default():
      _write(classifier, temporary)
    os.rename(temporary, export_dir)
  except OSError as error:
    raise UsageError('--export_dir %s: %s' % (export_dir, error.strerror)) from None
  finally:
    classifier.close()
    shutil.rmtree(temporary, ignore_errors=True)
