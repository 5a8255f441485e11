"""A trained classifier restored and run: held-out evaluation, predictions for image
files and dense (FCN-mode) feature maps."""

import numpy as np
import tensorflow as tf

from legacy_resnet.checkpointing import checkpoints
from legacy_resnet.data import images as image_files
from legacy_resnet.data import preprocessing
from legacy_resnet.evaluate import calibration
from legacy_resnet.graph import inference_graph
from legacy_resnet.graph import metrics
from legacy_resnet.graph import model_graph
from legacy_resnet.core import sessions
from legacy_resnet.core.errors import SettingError
from legacy_resnet.core.errors import UsageError
from nets import nets_factory
from nets import resnet_utils

PREDICT_BATCH_SIZE = 64
# Freezing and folding the graph (``inference_graph``) costs more at its first run than it
# saves per image below this many images (bench/results/2026-12-05-startup.md).
FREEZE_FROM_IMAGES = 4096
DENSE_BATCH_SIZE = 8


def in_batches(run, images, batch_size=PREDICT_BATCH_SIZE):
  """``run(batch)`` over ``images`` [N, ...] in batches; returns the stacked results."""
  return np.concatenate([run(images[start:start + batch_size])
                         for start in range(0, len(images), batch_size)])


def predict(session, output, images_placeholder, images, batch_size=PREDICT_BATCH_SIZE):
  """``in_batches`` running ``output`` in ``session``."""
  return in_batches(lambda batch: session.run(output, {images_placeholder: batch}), images, batch_size)


class RestoredClassifier:
  """A trained network rebuilt in evaluation mode and restored (its moving averages if
  kept) from a checkpoint path or ``checkpoints.Resolved``; ``image_size`` overrides the
  trained size ((None, None) accepts any), ``config`` the session's ConfigProto."""

  def __init__(self, checkpoint, image_size=None, network_args=None, finalize=True, config=None):
    checkpoint = checkpoints.resolved(checkpoint)
    self.prefix, self.metadata = checkpoint.prefix, checkpoint.metadata
    self.class_names = self.metadata['class_names']
    self.image_size = tuple(image_size or self.metadata['image_size'])
    self.graph = tf.Graph()
    with self.graph.as_default():
      self.tensors = model_graph.build_classifier(
          self.metadata['model_name'], len(self.class_names), self.image_size,
          preprocessing.InputPipeline.from_metadata(self.metadata), **(network_args or {}))
      self._restore_map = model_graph.variables_to_restore(self.metadata.get('moving_average_decay'))
      self._saver = tf.compat.v1.train.Saver(self._restore_map)
      if finalize:  # An exporter still adds its serving outputs.
        self.graph.finalize()
      self.config = config or sessions.session_config()
      self.session = tf.compat.v1.Session(graph=self.graph, config=self.config)
    self._frozen = None
    self.restore(checkpoint.path, self.prefix)

  def _restore_one(self, prefix):
    checkpoints.check_fits(prefix, self._restore_map)
    self.global_step = checkpoints.global_step(prefix)
    self._saver.restore(self.session, prefix)

  def restore(self, checkpoint_path, prefix=None):
    """Restores ``prefix``, else what ``checkpoint_path`` names (checkpoints.restore_newest); returns it."""
    if self._frozen is not None:  # Made of the weights restored before.
      self._frozen.session.close()
      self._frozen = None
    with self.graph.as_default():  # The saver's restore runs in its graph.
      self.prefix = checkpoints.restore_newest(checkpoint_path, self._restore_one, prefix)
    return self.prefix

  def probabilities(self, images, freeze=None):
    """float32 [N, num_classes] for images [N, H, W, 3] in [0, 1], from the frozen graph with its batch norms
    folded when ``freeze`` (default: from FREEZE_FROM_IMAGES images on, or once frozen)."""
    if freeze is None:
      freeze = self._frozen is not None or len(images) >= FREEZE_FROM_IMAGES
    if not freeze:
      return predict(self.session, self.tensors.eval_probabilities, self.tensors.images, images)
    if self._frozen is None:
      self._frozen = inference_graph.FrozenOutput(
          self.session, self.tensors.images, self.tensors.eval_probabilities, self.config)
    return predict(self._frozen.session, self._frozen.output, self._frozen.inputs, images)

  def close(self):
    if self._frozen is not None:
      self._frozen.session.close()
    self.session.close()


def held_out_probabilities(classifier, split):
  """float32 [N, num_classes] of ``classifier`` on a labelled split of its classes and image size."""
  if list(split.class_names) != list(classifier.class_names):
    raise UsageError('%s: classes %s differ from the checkpoint\'s %s'
                     % (split.source, list(split.class_names), classifier.class_names))
  if tuple(split.images.shape[1:3]) != classifier.image_size:
    raise UsageError('%s: images are %dx%d, the model was trained on %dx%d'
                     % (split.source, *split.images.shape[1:3], *classifier.image_size))
  return classifier.probabilities(split.images)


def evaluate(classifier, split, probabilities=None):
  """The classification report of ``classifier`` on a labelled split, with the
  checkpoint and its global step (``probabilities``: held_out_probabilities, if known)."""
  if probabilities is None:
    probabilities = held_out_probabilities(classifier, split)
  report = metrics.classification_report(split.labels, probabilities, classifier.class_names)
  report.update(checkpoint=classifier.prefix, global_step=classifier.global_step)
  return report


def top_predictions(classifier, paths, top_k, temperature=1.0):
  """[(path, [(class name, probability), ...])] per image file, best first, at ``temperature``."""
  batch = np.stack([image_files.read_image(path, classifier.image_size) for path in paths])
  probabilities = classifier.probabilities(batch)
  if temperature != 1.0:
    probabilities = calibration.scaled(probabilities, temperature)
  return [(path, [(classifier.class_names[i], float(row[i])) for i in np.argsort(-row)[:top_k]])
          for path, row in zip(paths, probabilities)]


def last_block(classifier):
  """The end point of the last feature block that ``classifier``'s network declares."""
  model_name = classifier.metadata['model_name']
  block = nets_factory.declaration(model_name).feature_blocks[-1]
  return classifier.tensors.end_points['%s/%s' % (model_name, block)]


def fully_convolutional_args(model_name, setting, output_stride):
  """The network arguments that run ``model_name`` fully convolutionally (any image size,
  features and logits at every location) at ``output_stride``; a SettingError naming
  ``setting`` when the network has no such mode."""
  if not nets_factory.declaration(model_name).fully_convolutional:
    raise SettingError('{%s}: %%s has no fully convolutional mode (its classifier needs a fixed image size); '
                       'these have: %%s' % setting, model_name, ', '.join(
                           name for name in sorted(nets_factory.networks_map)
                           if nets_factory.declaration(name).fully_convolutional))
  return {'global_pool': False, 'output_stride': output_stride, 'spatial_squeeze': False}


def fully_convolutional_classifier(checkpoint, setting, output_stride, multi_grid=None):
  """The RestoredClassifier of ``checkpoint`` (a ``checkpoints.Resolved``) for any image
  size, with ``fully_convolutional_args`` and the last block's ``multi_grid``."""
  network_args = fully_convolutional_args(checkpoint.metadata['model_name'], setting, output_stride)
  if multi_grid:
    network_args['multi_grid'] = tuple(multi_grid)
  try:
    return RestoredClassifier(checkpoint, image_size=(None, None), network_args=network_args)
  except resnet_utils.MultiGridError as error:
    raise SettingError('{multi_grid}: %s', error) from None
  except ValueError as error:
    raise SettingError('{output_stride} %d: %s', output_stride, error) from None


def dense_features(checkpoint, output_stride, images, multi_grid=None):
  """(float32 [N, ceil(H / output_stride), ceil(W / output_stride), channels], the prefix restored): the
  last block's feature maps in FCN mode of ``checkpoint`` (a Resolved) for ``images`` float32 [N, H, W, 3]
  in [0, 1], any H and W; ``multi_grid``: the atrous rate factors of the last block's units, or None."""
  classifier = fully_convolutional_classifier(checkpoint, 'dense_features', output_stride, multi_grid)
  try:
    return predict(classifier.session, last_block(classifier), classifier.tensors.images,
                   images, DENSE_BATCH_SIZE), classifier.prefix
  finally:
    classifier.close()


def record(writer, name, report, step):
  """Adds ``name``/accuracy and /loss of ``report`` to ``writer`` at ``step``; returns them as metadata."""
  writer.add_summary(tf.compat.v1.Summary(value=[
      tf.compat.v1.Summary.Value(tag='%s/accuracy' % name, simple_value=report['accuracy']),
      tf.compat.v1.Summary.Value(tag='%s/loss' % name, simple_value=report['loss'])]), step)
  return {'accuracy': report['accuracy'], 'loss': report['loss'], 'global_step': step, 'split': name}
