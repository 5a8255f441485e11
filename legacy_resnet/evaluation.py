"""Restoring a trained classifier and running it: held-out evaluation, predictions for
image files and dense (FCN-mode) feature maps."""

import re

import numpy as np
import tensorflow as tf

from legacy_resnet import checkpoints
from legacy_resnet import images as image_files
from legacy_resnet import inference_graph
from legacy_resnet import metrics
from legacy_resnet import model_graph
from legacy_resnet import preprocessing
from legacy_resnet import sessions
from legacy_resnet.errors import UsageError
from nets import resnet_utils

PREDICT_BATCH_SIZE = 64
# Freezing the restored graph and folding its batch norms (``inference_graph``) costs
# more at its first run than the folded graph then saves per image, until a program
# classifies thousands of images at once (bench/results/2026-12-05-startup.md); below
# this many, the restored graph answers.
FREEZE_FROM_IMAGES = 4096
DENSE_BATCH_SIZE = 8


def in_batches(run, images, batch_size=PREDICT_BATCH_SIZE):
  """``run(batch)`` over ``images`` [N, ...] in batches; returns the stacked results."""
  return np.concatenate([run(images[start:start + batch_size])
                         for start in range(0, len(images), batch_size)])


def predict(session, output, images_placeholder, images, batch_size=PREDICT_BATCH_SIZE):
  """Runs ``output`` over ``images`` [N, ...] in batches; returns the stacked results."""
  return in_batches(lambda batch: session.run(output, {images_placeholder: batch}), images,
                    batch_size)


def last_block(end_points):
  """The end point of the network's deepest block ('<scope>/block4' for resnet_v1)."""
  blocks = {int(match.group(1)): name for name in end_points
            for match in [re.search(r'/block(\d+)$', name)] if match}
  return end_points[blocks[max(blocks)]]


class RestoredClassifier:
  """A trained network rebuilt in evaluation mode and restored from a checkpoint.

  The moving-average weights are restored when the run kept them. ``image_size``
  overrides the trained size ((None, None) accepts any); the graph is finalized unless
  ``finalize`` is False; ``config`` is the session's ConfigProto (default:
  ``sessions.session_config()``). A train dir's checkpoint deleted by its trainer while
  it is restored is replaced by the newest complete one (``checkpoints.restore_newest``);
  ``prefix`` and ``global_step`` are those of the checkpoint restored.
  """

  def __init__(self, checkpoint_path, image_size=None, network_args=None, finalize=True,
               config=None):
    self.prefix = checkpoints.resolve(checkpoint_path)
    self.metadata = checkpoints.read_metadata(self.prefix)
    self.class_names = self.metadata['class_names']
    self.image_size = tuple(image_size or self.metadata['image_size'])
    self.graph = tf.Graph()
    with self.graph.as_default():
      self.tensors = model_graph.build_classifier(
          self.metadata['model_name'], len(self.class_names), self.image_size,
          preprocessing.InputPipeline.from_metadata(self.metadata), **(network_args or {}))
      self._restore_map = model_graph.variables_to_restore(
          self.metadata.get('moving_average_decay'))
      self._saver = tf.compat.v1.train.Saver(self._restore_map)
      if finalize:  # An exporter still adds its serving outputs.
        self.graph.finalize()
      self.config = config or sessions.session_config()
      self.session = tf.compat.v1.Session(graph=self.graph, config=self.config)
    self._frozen = None
    self.restore(checkpoint_path, self.prefix)

  def _restore_one(self, prefix):
    checkpoints.check_fits(prefix, self._restore_map)
    self.global_step = checkpoints.global_step(prefix)
    self._saver.restore(self.session, prefix)

  def restore(self, checkpoint_path, prefix=None):
    """Restores ``prefix``, else the checkpoint ``checkpoint_path`` names (for a train
    dir, its newest complete one), into the session (see
    ``checkpoints.restore_newest``); returns the prefix restored."""
    if self._frozen is not None:  # Made of the weights restored before.
      self._frozen.session.close()
      self._frozen = None
    with self.graph.as_default():  # The saver's restore runs in its graph.
      self.prefix = checkpoints.restore_newest(checkpoint_path, self._restore_one, prefix)
    return self.prefix

  def probabilities(self, images, freeze=None):
    """float32 [N, num_classes] for images [N, H, W, 3] in [0, 1].

    With ``freeze`` (default: from FREEZE_FROM_IMAGES images on, or once frozen), from
    the frozen inference graph with its batch norms folded, made at the first such call;
    otherwise from the restored graph.
    """
    if freeze is None:
      freeze = self._frozen is not None or len(images) >= FREEZE_FROM_IMAGES
    if not freeze:
      return predict(self.session, self.tensors.eval_probabilities, self.tensors.images,
                     images)
    if self._frozen is None:
      self._frozen = inference_graph.FrozenOutput(
          self.session, self.tensors.images, self.tensors.eval_probabilities, self.config)
    return predict(self._frozen.session, self._frozen.output, self._frozen.inputs, images)

  def close(self):
    if self._frozen is not None:
      self._frozen.session.close()
    self.session.close()


def held_out_probabilities(classifier, split):
  """float32 [N, num_classes] of ``classifier`` on a labelled split of its classes and
  image size."""
  if list(split.class_names) != list(classifier.class_names):
    raise UsageError('%s: classes %s differ from the checkpoint\'s %s'
                     % (split.source, list(split.class_names), classifier.class_names))
  if tuple(split.images.shape[1:3]) != classifier.image_size:
    raise UsageError('%s: images are %dx%d, the model was trained on %dx%d'
                     % ((split.source,) + tuple(split.images.shape[1:3]) +
                        classifier.image_size))
  return classifier.probabilities(split.images)


def evaluate(classifier, split, probabilities=None):
  """The classification report of ``classifier`` on a labelled split, with the
  checkpoint and its global step; ``probabilities`` are ``held_out_probabilities``
  when already computed."""
  if probabilities is None:
    probabilities = held_out_probabilities(classifier, split)
  report = metrics.classification_report(split.labels, probabilities, classifier.class_names)
  report.update(checkpoint=classifier.prefix, global_step=classifier.global_step)
  return report


def top_predictions(classifier, paths, top_k):
  """[(path, [(class name, probability), ...])] for each image file, best first."""
  batch = np.stack([image_files.read_image(path, classifier.image_size) for path in paths])
  results = []
  for path, row in zip(paths, classifier.probabilities(batch)):
    best = np.argsort(-row)[:top_k]
    results.append((path, [(classifier.class_names[i], float(row[i])) for i in best]))
  return results


def dense_features(checkpoint_path, output_stride, images, multi_grid=None):
  """The last block's feature maps in FCN mode (no global pooling, atrous convolution).

  Args:
    checkpoint_path: checkpoint prefix or train dir of a resnet_v1 or resnet_v2 model.
    output_stride: 8 or 16 (any stride the network can produce).
    images: float32 [N, H, W, 3] in [0, 1], any H and W (the run's preprocessing
      transforms their pixel values, without cropping or resizing).
    multi_grid: atrous rate factors of the last block's units, or None.

  Returns:
    float32 [N, ceil(H / output_stride), ceil(W / output_stride), channels], and the
    prefix of the checkpoint restored.
  """
  model_name = checkpoints.read_metadata(checkpoint_path)['model_name']
  if not model_name.startswith(('resnet_v1_', 'resnet_v2_')):
    raise UsageError('--dense_features: %s has no output_stride; use a resnet_v1_* or '
                     'resnet_v2_* model' % model_name)
  network_args = {'global_pool': False, 'output_stride': output_stride}
  if multi_grid:
    network_args['multi_grid'] = tuple(multi_grid)
  try:
    classifier = RestoredClassifier(checkpoint_path, image_size=(None, None),
                                    network_args=network_args)
  except resnet_utils.MultiGridError as error:
    raise UsageError('--multi_grid: %s' % error) from None
  except ValueError as error:
    raise UsageError('--output_stride %d: %s' % (output_stride, error)) from None
  try:
    features = last_block(classifier.tensors.end_points)
    return predict(classifier.session, features, classifier.tensors.images, images,
                   DENSE_BATCH_SIZE), classifier.prefix
  finally:
    classifier.close()
