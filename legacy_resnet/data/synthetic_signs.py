"""The embedded default dataset: synthetic SIGNS-format hand signs, drawn with numpy.

Each image shows one hand raising 0 to 5 of its five fingers (thumb included, any
subset); the label is how many are raised. Folded fingers show as knuckle bumps, a
folded thumb lies across the palm. Position, size, rotation, handedness, skin tone,
background, lighting and noise all vary, so raw pixels are far from linearly
separable while a person counts the fingers at a glance. For the real SIGNS files,
pass ``--dataset_dir`` to the programs.

``python -m legacy_resnet.data.synthetic_signs --output_dir DIR`` writes the pair of files.
"""

import functools
import os
import sys

import h5py
import numpy as np

from legacy_resnet.data import signs_data
from legacy_resnet.core import atomic_files
from legacy_resnet.core import cli
from legacy_resnet.core.errors import SettingError

NUM_CLASSES = 6
CLASS_VALUES = np.arange(NUM_CLASSES, dtype=np.int64)
NUM_TRAIN, NUM_TEST, IMAGE_SIZE = 1200, 600, 64  # the default set
TRAIN_STREAM, TEST_STREAM = 0, 1
# (key prefix, random stream, file name) of the two sets.
_SETS = (('train', TRAIN_STREAM, signs_data.TRAIN_FILE),
         ('test', TEST_STREAM, signs_data.TEST_FILE))
_STREAMS = {name: stream for name, stream, _ in _SETS}
# Images drawn together: numpy works on whole batches, memory stays around 10 MB.
_BATCH = 64

# The hand in its own frame: palm centre at the origin, fingers towards -y, lengths
# in palm radii. Every part is a capsule (a segment with a radius).
_PALM = np.array([[0.0, -0.1], [0.0, 0.15]], np.float32)
_PALM_RADIUS = 0.62
_WRIST = np.array([[0.0, 0.3], [0.0, 4.0]], np.float32)  # long enough to leave the image
_WRIST_RADIUS = 0.45
# The parts, in order: palm, wrist, then the five fingers.
_WRIST_INDEX, _FIRST_FINGER = 1, 2
# Thumb, index, middle, ring, little: base x, base y, degrees from vertical, length.
_RAISED = np.array([
    [-0.55, 0.10, -65.0, 0.75],
    [-0.42, -0.48, -20.0, 1.00],
    [-0.14, -0.55, -7.0, 1.10],
    [0.14, -0.52, 7.0, 1.02],
    [0.42, -0.44, 20.0, 0.82],
], np.float32)
# Folded: a knuckle bump for each finger; the thumb lies across the palm.
_FOLDED = np.vstack([[-0.5, 0.2, 60.0, 0.5],
                     np.c_[_RAISED[1:, :3], np.full(4, 0.1)]]).astype(np.float32)
_FINGER_RADIUS = (0.13, 0.16)
_MARGIN = 2.0  # pixels kept between any finger and the image border

_SKIN_TONES = np.array([[0.96, 0.80, 0.69], [0.89, 0.68, 0.55], [0.78, 0.57, 0.42],
                        [0.62, 0.43, 0.30], [0.45, 0.31, 0.22], [0.98, 0.87, 0.77]],
                       np.float32)
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
_TEXTURE_CELLS = 5


@functools.lru_cache(maxsize=4)
def _pixel_centres(size):
  """(xs, ys) float32 [size, size] of pixel centres, in pixels; never modified."""
  ys, xs = (np.mgrid[0:size, 0:size] + 0.5).astype(np.float32)
  return xs, ys


@functools.lru_cache(maxsize=4)
def _upsampling_matrix(size, cells):
  """float32 [size, cells]: bilinear weights taking a cells-wide grid to size pixels."""
  positions = np.linspace(0.0, cells - 1.0, size, dtype=np.float32)
  return np.clip(1.0 - np.abs(positions[:, None] - np.arange(cells)), 0.0, 1.0)


def _raised_fingers(rng, counts):
  """bool [B, 5]: a random set of ``counts[i]`` raised fingers for each hand."""
  ranks = np.argsort(np.argsort(rng.random((len(counts), 5)), axis=1), axis=1)
  return ranks < counts[:, None]


def _hand_in_own_frame(rng, counts):
  """(segments float32 [B, 7, 2, 2], radii float32 [B, 7]) of palm, wrist and the five
  fingers of hands raising ``counts`` [B] fingers, in palm radii."""
  batch = len(counts)
  raised = _raised_fingers(rng, counts)
  slots = np.where(raised[..., None], _RAISED, _FOLDED)
  angles = np.radians(slots[..., 2] + rng.uniform(-6.0, 6.0, (batch, 5)))
  lengths = slots[..., 3] * rng.uniform(0.9, 1.1, (batch, 5))
  bases = slots[..., :2]
  tips = bases + lengths[..., None] * np.stack([np.sin(angles), -np.cos(angles)], axis=-1)
  fingers = np.stack([bases, tips], axis=2)
  fixed = np.broadcast_to(np.stack([_PALM, _WRIST]), (batch, 2, 2, 2))
  segments = np.concatenate([fixed, fingers], axis=1).astype(np.float32)
  finger_radius = rng.uniform(*_FINGER_RADIUS, (batch, 1))
  radii = np.concatenate([np.full((batch, 1), _PALM_RADIUS), np.full((batch, 1), _WRIST_RADIUS),
                          np.repeat(finger_radius, 5, axis=1)], axis=1).astype(np.float32)
  return segments, radii


def _place_in_image(rng, segments, radii, size):
  """The hands scaled, rotated, mirrored and moved into a size x size image, with all
  hand but the wrist inside it: (segments [B, P, 2, 2], radii [B, P]) in pixels."""
  batch = len(segments)
  scale = size * rng.uniform(0.21, 0.27, batch)
  angle = np.radians(rng.uniform(-25.0, 25.0, batch))
  mirror = rng.choice([-1.0, 1.0], batch)
  cos, sin = np.cos(angle), np.sin(angle)
  # Columns are the images of the hand frame's x and y axes.
  axes = np.stack([np.stack([cos * mirror, sin * mirror], -1), np.stack([-sin, cos], -1)], -1)
  points = np.einsum('bij,bpkj->bpki', axes * scale[:, None, None], segments)
  points += np.stack([rng.uniform(0.4, 0.6, batch), rng.uniform(0.6, 0.7, batch)], -1)[
      :, None, None, :] * size
  radii = radii * scale[:, None]
  hand = np.arange(segments.shape[1]) != _WRIST_INDEX
  points += _shift_inside(points[:, hand], radii[:, hand], size)[:, None, None, :]
  return points.astype(np.float32), radii.astype(np.float32)


def _shift_inside(points, radii, size):
  """float [B, 2]: the move that brings capsules [B, P, 2, 2] with radii [B, P] inside
  the image (keeping _MARGIN pixels free)."""
  reach = radii[:, :, None, None] + _MARGIN
  low = (points - reach).min(axis=(1, 2))
  high = (points + reach).max(axis=(1, 2))
  return np.maximum(0.0, -low) - np.maximum(0.0, high - size)


def _signed_distances(segments, radii, size):
  """float32 [B, P, size, size]: pixel distance outside each capsule (negative inside)."""
  xs, ys = _pixel_centres(size)
  start_x, start_y = segments[:, :, 0, 0, None, None], segments[:, :, 0, 1, None, None]
  step = segments[:, :, 1] - segments[:, :, 0]
  step_x, step_y = step[..., 0, None, None], step[..., 1, None, None]
  from_x, from_y = xs - start_x, ys - start_y
  along = np.clip((from_x * step_x + from_y * step_y) /
                  (step_x * step_x + step_y * step_y + 1e-6), 0.0, 1.0)
  across_x, across_y = from_x - along * step_x, from_y - along * step_y
  return np.sqrt(across_x * across_x + across_y * across_y) - radii[..., None, None]


def _skin_colours(rng, batch):
  """float32 [B, 3] skin colours."""
  tone = _SKIN_TONES[rng.integers(len(_SKIN_TONES), size=batch)]
  tint = rng.uniform(0.85, 1.08, (batch, 1)) * rng.uniform(0.94, 1.06, (batch, 3))
  return tone * tint.astype(np.float32)


def _backgrounds(rng, skin, size):
  """float32 [B, size, size, 3]: coloured, shaded, blotchy backgrounds whose brightness
  stays clearly apart from the skin's, so the hand's outline is always visible."""
  batch = len(skin)
  skin_luma = skin @ _LUMA
  gap = rng.uniform(0.22, 0.45, batch) * rng.choice([-1.0, 1.0], batch)
  gap = np.where(np.abs(skin_luma + gap - 0.5) > 0.45, -gap, gap)
  tint = rng.random((batch, 3))
  chroma = tint - (tint @ _LUMA)[:, None]  # zero brightness: colour only
  colour = ((skin_luma + gap)[:, None] + rng.uniform(0.3, 1.0, (batch, 1)) * chroma
            ).astype(np.float32)
  xs, ys = (grid / size - 0.5 for grid in _pixel_centres(size))
  tilt = rng.uniform(-0.15, 0.15, (batch, 2, 3)).astype(np.float32)
  gradient = xs[..., None] * tilt[:, None, None, 0] + ys[..., None] * tilt[:, None, None, 1]
  cells = rng.normal(0.0, 1.0, (batch, 3, _TEXTURE_CELLS, _TEXTURE_CELLS))
  cells *= rng.uniform(0.0, 0.08, (batch, 1, 1, 1))
  upsample = _upsampling_matrix(size, _TEXTURE_CELLS)
  texture = (upsample @ cells.astype(np.float32) @ upsample.T).transpose(0, 2, 3, 1)
  return colour[:, None, None, :] + gradient + texture


def _lighting(rng, batch, size):
  """float32 [B, size, size]: exposure times a light falling from a random side."""
  xs, ys = (grid / size - 0.5 for grid in _pixel_centres(size))
  direction = rng.uniform(0.0, 2.0 * np.pi, batch)[:, None, None]
  strength = rng.uniform(0.0, 0.5, batch)[:, None, None]
  exposure = rng.uniform(0.8, 1.15, batch)[:, None, None]
  return (exposure * (1.0 + strength * (np.cos(direction) * xs + np.sin(direction) * ys))
          ).astype(np.float32)


def _hand_boxes(segments, radii, size):
  """float32 [B, 4]: (x0, y0, x1, y1) in pixels around palm and fingers (the wrist,
  which runs out of the image, left out), clipped to the image."""
  hand = np.arange(segments.shape[1]) != _WRIST_INDEX
  reach = radii[:, hand, None, None]
  low = (segments[:, hand] - reach).min(axis=(1, 2))
  high = (segments[:, hand] + reach).max(axis=(1, 2))
  return np.clip(np.concatenate([low, high], axis=1), 0.0, size).astype(np.float32)


def _draw_batch(rng, counts, size):
  """(uint8 images [B, size, size, 3] of hands raising ``counts`` [B] fingers,
  float32 hand boxes [B, 4] as in ``_hand_boxes``)."""
  batch = len(counts)
  segments, radii = _place_in_image(rng, *_hand_in_own_frame(rng, counts), size)
  distances = _signed_distances(segments, radii, size)
  # Half a pixel of soft edge anti-aliases without supersampling.
  coverage = np.clip(0.5 - distances.min(axis=1), 0.0, 1.0)[..., None]
  # Finger outlines keep touching fingers apart and show a folded thumb on the palm.
  outline = np.clip(1.0 - np.abs(distances[:, _FIRST_FINGER:]) / 0.9, 0.0, 1.0).max(axis=1)[..., None]
  skin = _skin_colours(rng, batch)[:, None, None, :]
  darkening = rng.uniform(0.25, 0.45, (batch, 1, 1, 1)).astype(np.float32)
  hand = skin * (1.0 - darkening * outline)
  background = _backgrounds(rng, skin[:, 0, 0], size)
  image = (background + (hand - background) * coverage) * _lighting(rng, batch, size)[..., None]
  noise_level = rng.uniform(0.005, 0.035, (batch, 1, 1, 1)).astype(np.float32)
  image += rng.standard_normal(image.shape, dtype=np.float32) * noise_level
  return (np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8),
          _hand_boxes(segments, radii, size))


def draw_images(count, seed, stream, image_size=IMAGE_SIZE, with_boxes=False):
  """(uint8 images [count, S, S, 3], int64 labels [count]) with S = image_size, and
  with ``with_boxes`` the float32 hand boxes [count, 4] too: (x0, y0, x1, y1) in
  pixels around palm and fingers (the wrist, which runs out of the image, left out).

  Classes are balanced (counts differ by at most one) and shuffled. ``stream``
  (TRAIN_STREAM or TEST_STREAM) gives each set its own random numbers, so no test
  image is a training image.
  """
  rng = np.random.default_rng([seed, stream])
  labels = rng.permutation(np.arange(count) % NUM_CLASSES).astype(np.int64)
  images = np.empty((count, image_size, image_size, 3), np.uint8)
  boxes = np.empty((count, 4), np.float32)
  for start in range(0, count, _BATCH):
    images[start:start + _BATCH], boxes[start:start + _BATCH] = _draw_batch(
        rng, labels[start:start + _BATCH], image_size)
  return (images, labels, boxes) if with_boxes else (images, labels)


def class_names():
  """The class names of every synthetic split, in label order."""
  return signs_data.class_names(CLASS_VALUES)


def generate_split(name, count, seed=0, image_size=IMAGE_SIZE):
  """The Split ``name`` ('train' or 'test') of ``count`` synthetic signs; each split
  has its own random numbers, so either can be drawn alone."""
  images, labels = draw_images(count, seed, _STREAMS[name], image_size)
  source = 'synthetic signs (%s, seed %d)' % (name, seed)
  return signs_data.make_split(images, CLASS_VALUES, labels, source)


def hand_boxes(name, count, seed=0, image_size=IMAGE_SIZE):
  """float32 [count, 4]: the hand boxes (see ``draw_images``) of the images of
  ``generate_split(name, count, seed, image_size)``, in the same order."""
  return draw_images(count, seed, _STREAMS[name], image_size, with_boxes=True)[2]


def generate(num_train=NUM_TRAIN, num_test=NUM_TEST, seed=0, image_size=IMAGE_SIZE):
  """(train Split, test Split) of synthetic signs, same seed -> same pixels."""
  return (generate_split('train', num_train, seed, image_size),
          generate_split('test', num_test, seed, image_size))


def write_signs_files(output_dir, num_train=NUM_TRAIN, num_test=NUM_TEST, seed=0,
                      image_size=IMAGE_SIZE):
  """Writes train_signs.h5 and test_signs.h5 to ``output_dir`` in the course's format
  (uint8 x [N, S, S, 3], int64 y [N], int64 list_classes [6]); each file appears
  whole or not at all."""
  try:
    os.makedirs(output_dir, exist_ok=True)
  except OSError as error:
    raise SettingError('{output_dir} %s: cannot create the folder (%s)', output_dir,
                       error.strerror) from None
  for count, (prefix, stream, filename) in zip((num_train, num_test), _SETS):
    images, labels = draw_images(count, seed, stream, image_size)
    path = os.path.join(output_dir, filename)
    with atomic_files.replacing(path, suffix='.h5') as temporary:
      with h5py.File(temporary, 'w') as out:
        out.create_dataset('%s_set_x' % prefix, data=images)
        out.create_dataset('%s_set_y' % prefix, data=labels)
        out.create_dataset('list_classes', data=CLASS_VALUES)


def main(argv):
  parser = cli.ArgumentParser(prog='python -m legacy_resnet.data.synthetic_signs',
                              description='Write synthetic SIGNS-format files.')
  parser.add_argument('--output_dir', required=True)
  parser.add_argument('--num_train', type=cli.positive_int, default=NUM_TRAIN)
  parser.add_argument('--num_test', type=cli.positive_int, default=NUM_TEST)
  parser.add_argument('--seed', type=cli.non_negative_int, default=0)
  settings = parser.parse_args(argv)
  write_signs_files(settings.output_dir, settings.num_train, settings.num_test, settings.seed)


if __name__ == '__main__':
  sys.exit(cli.run(main, sys.argv[1:]))
