"""Class-score heatmaps: a trained classifier run fully convolutionally (FCN mode).

The same weights, without the global average pool and with atrous convolution in the
last blocks, give the logits at every location of the last block's grid instead of
once per image. Averaged over the locations they are (at output stride 32 exactly)
the classifier's logits, so the class they pick is the image's prediction, and the
predicted class's map shows where in the image that score comes from.
"""

import h5py
import numpy as np

from legacy_resnet.evaluate import evaluation
from legacy_resnet.core import atomic_files

HDF5_FILE = 'heatmaps.h5'


def class_score_maps(checkpoint, output_stride, images):
  """The logits at every location of each image, in FCN mode.

  Args:
    checkpoint: a ``checkpoints.Resolved`` of a fully convolutional network.
    output_stride: 8 or 16 (any stride the network can produce).
    images: a list of float32 [H, W, 3] in [0, 1]; sizes may differ.

  Returns:
    a list of float32 [ceil(H / output_stride), ceil(W / output_stride), classes],
    the class names and the prefix of the checkpoint restored.
  """
  classifier = evaluation.fully_convolutional_classifier(checkpoint, 'heatmaps', output_stride)
  maps = [None] * len(images)
  try:
    by_size = {}
    for index, image in enumerate(images):
      by_size.setdefault(image.shape, []).append(index)
    for indices in by_size.values():
      batch = np.stack([images[index] for index in indices])
      logits = evaluation.predict(classifier.session, classifier.tensors.logits,
                                  classifier.tensors.images, batch,
                                  evaluation.DENSE_BATCH_SIZE)
      for index, score_map in zip(indices, logits):
        maps[index] = score_map
  finally:
    classifier.close()
  return maps, classifier.class_names, classifier.prefix


def predictions_and_peaks(maps, output_stride):
  """What each map [h, w, classes] of ``maps`` says about its image.

  Returns:
    predicted int64 [N]: the class of the softmax of the map's mean logits;
    probability float32 [N]: that class's probability;
    peaks float32 [N, 2]: (x, y) in pixels of the predicted class's highest score,
      location (i, j) sitting at pixel (j * output_stride, i * output_stride).
  """
  predicted = np.empty(len(maps), np.int64)
  probability = np.empty(len(maps), np.float32)
  peaks = np.empty((len(maps), 2), np.float32)
  for index, score_map in enumerate(maps):
    logits = score_map.mean(axis=(0, 1))
    softmax = np.exp(logits - logits.max())
    predicted[index] = np.argmax(softmax)
    probability[index] = softmax[predicted[index]] / softmax.sum()
    class_map = score_map[..., predicted[index]]
    row, column = np.unravel_index(np.argmax(class_map), class_map.shape)
    peaks[index] = column * output_stride, row * output_stride
  return predicted, probability, peaks


def inside(points, boxes):
  """bool [N]: each (x, y) of ``points`` [N, 2] lies in its (x0, y0, x1, y1) box."""
  points, boxes = np.asarray(points), np.asarray(boxes)
  return ((points[:, 0] >= boxes[:, 0]) & (points[:, 0] <= boxes[:, 2]) &
          (points[:, 1] >= boxes[:, 1]) & (points[:, 1] <= boxes[:, 3]))


def write_hdf5(path, maps, sources, predictions, output_stride, attributes, labels=None):
  """Writes the maps of several images into one HDF5 file, atomically.

  Layout: group ``maps`` with one float32 [h, w, classes] dataset per image, named
  by its index ('000000', ...), as sizes may differ; ``sources`` [N] (file or split
  entry); ``predicted`` [N], ``probability`` [N] and ``peaks`` [N, 2] from
  ``predictions`` (as ``predictions_and_peaks`` returns them); ``labels`` [N] when
  known; attributes ``output_stride`` and ``attributes``' items.
  """
  with atomic_files.replacing(path, suffix='.h5') as temporary:
    with h5py.File(temporary, 'w') as out:
      group = out.create_group('maps')
      for index, score_map in enumerate(maps):
        group.create_dataset('%06d' % index, data=score_map, compression='gzip')
      out.create_dataset('sources', data=np.array(sources, dtype=object),
                         dtype=h5py.string_dtype())
      for name, values in zip(('predicted', 'probability', 'peaks'), predictions):
        out.create_dataset(name, data=values)
      if labels is not None:
        out.create_dataset('labels', data=np.asarray(labels, np.int64))
      out.attrs.update(output_stride=output_stride, **attributes)


def read_maps(path):
  """The list of maps [h, w, classes] of a file written by ``write_hdf5``, in order."""
  with h5py.File(path, 'r') as source:
    group = source['maps']
    return [group[name][...] for name in sorted(group)]
