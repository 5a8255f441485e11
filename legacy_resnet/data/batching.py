"""Training batches and their augmentation, as a pure function of (seed, step): a resumed
run sees exactly the batches an uninterrupted one would have seen."""

import collections

import numpy as np

from legacy_resnet.data import photo_augmentation

# ``photo``: a photo_augmentation.PhotoAugmentation, or None (off).
Augmentation = collections.namedtuple(
    'Augmentation', ['max_shift', 'horizontal_flip', 'max_brightness', 'max_contrast', 'photo'],
    defaults=(None,))

NO_AUGMENTATION = Augmentation(0, False, 0.0, 0.0)


def steps_per_epoch(num_examples, batch_size):
  """Full batches in one epoch (the last partial batch is dropped; every epoch
  reshuffles, so no image is left out for long)."""
  return max(1, num_examples // batch_size)


def batch_indices(num_examples, batch_size, seed, step, shard=(0, 1)):
  """Indices into the training set of the batch at ``step`` (a fresh permutation of
  the whole set every epoch); ``shard`` (index, count) takes part ``index`` of ``count``
  disjoint parts of a batch of ``count * batch_size``, so that the workers of a cluster
  that share a step draw together exactly one process's batch of that size."""
  index, count = shard
  per_epoch = steps_per_epoch(num_examples, batch_size * count)
  epoch, position = divmod(step, per_epoch)
  order = np.random.default_rng([seed, epoch]).permutation(num_examples)
  start = (position * count + index) * batch_size
  return order[start:start + batch_size]


def augment(images, augmentation, rng):
  """Randomly shifted, flipped, brightened and contrasted (and with ``augmentation.photo``
  the photo transforms) copies of float32 ``images`` [batch, height, width, channels] in
  [0, 1], clipped to [0, 1]; zeros, False and None in ``augmentation`` switch a transform
  off; ``rng``: a numpy Generator."""
  out = images.copy()
  batch, height, width, _ = images.shape
  if augmentation.max_shift:
    pad = augmentation.max_shift
    padded = np.pad(images, [(0, 0), (pad, pad), (pad, pad), (0, 0)], mode='edge')
    offsets = rng.integers(0, 2 * pad + 1, size=(batch, 2))
    for index, (top, left) in enumerate(offsets):
      out[index] = padded[index, top:top + height, left:left + width]
  if augmentation.horizontal_flip:
    flip = rng.random(batch) < 0.5
    out[flip] = out[flip, :, ::-1]
  if augmentation.max_contrast:
    factor = 1.0 + rng.uniform(-augmentation.max_contrast, augmentation.max_contrast,
                               (batch, 1, 1, 1))
    mean = out.mean(axis=(1, 2, 3), keepdims=True)
    out = (out - mean) * factor + mean
  if augmentation.max_brightness:
    out = out + rng.uniform(-augmentation.max_brightness, augmentation.max_brightness,
                            (batch, 1, 1, 1))
  # After the others, so that runs without it draw the same random numbers as before.
  if augmentation.photo and not photo_augmentation.is_off(augmentation.photo):
    out = photo_augmentation.augment(out, augmentation.photo, rng)
  return np.clip(out, 0.0, 1.0).astype(np.float32)


def training_batch(split, batch_size, seed, step, augmentation, shard=(0, 1)):
  """(images float32 [batch, H, W, 3], labels int64 [batch]) for ``step`` (and
  ``shard``, see ``batch_indices``; each shard draws its own augmentation)."""
  indices = batch_indices(len(split.labels), batch_size, seed, step, shard)
  images = split.images[indices]
  if augmentation != NO_AUGMENTATION:
    stream = [seed, step, 1] + ([shard[0]] if shard[1] > 1 else [])
    images = augment(images, augmentation, np.random.default_rng(stream))
  return images, split.labels[indices]
