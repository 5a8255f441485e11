"""The embedded default dataset: synthetic SIGNS-format hand signs, drawn with numpy.

Each 64x64 image shows one hand raising 0 to 5 fingers (the label) out of five
(thumb and four fingers, any subset), with folded fingers drawn as knuckle stubs.
Position, size, rotation, handedness, skin tone, background, lighting and noise all
vary, so raw pixels are far from linearly separable while the count stays
unambiguous to a person. It is synthetic: for the real SIGNS files, pass
``--dataset_dir`` to the programs.

``python -m legacy_resnet.synthetic_signs --output_dir DIR`` writes the pair of files.
"""

import argparse
import functools
import os

import h5py
import numpy as np

from legacy_resnet import atomic_files
from legacy_resnet import signs_data

NUM_CLASSES = 6
SUPERSAMPLE = 2  # drawn at twice the size, then averaged: smooth edges.

# Finger slots in the hand's own frame (palm centre at 0, fingers up = -y, unit = palm
# size): base x, base y, direction in degrees from vertical, raised length.
_SLOTS = np.array([
    [-0.50, 0.05, -55.0, 0.80],   # thumb
    [-0.36, -0.45, -12.0, 1.00],  # index
    [-0.12, -0.52, -4.0, 1.12],   # middle
    [0.12, -0.50, 4.0, 1.04],     # ring
    [0.35, -0.42, 13.0, 0.82],    # little
])
_FOLDED_LENGTH = 0.22
_FINGER_RADIUS = 0.115
_SKIN_TONES = np.array([[0.96, 0.80, 0.69], [0.89, 0.68, 0.55], [0.78, 0.57, 0.42],
                        [0.62, 0.43, 0.30], [0.45, 0.31, 0.22], [0.98, 0.87, 0.77]])


@functools.lru_cache(maxsize=4)
def _pixel_grid(size):
  """(xs, ys) float32 [size, size] of pixel centres; shared, never modified."""
  ys, xs = (np.mgrid[0:size, 0:size] + 0.5).astype(np.float32)
  return xs, ys


def _capsule_distance(xs, ys, start, end):
  """Distance of every pixel from the segment start-end."""
  direction = end - start
  t = ((xs - start[0]) * direction[0] + (ys - start[1]) * direction[1]) / (
      direction @ direction + 1e-9)
  t = np.clip(t, 0.0, 1.0)
  return np.hypot(xs - start[0] - t * direction[0], ys - start[1] - t * direction[1])


def _soft_inside(distance, radius, edge=1.0):
  """Coverage in [0, 1] of a shape at ``distance`` from its core, ``radius`` thick."""
  return np.clip((radius - distance) / edge + 0.5, 0.0, 1.0)


def _background(rng, size):
  """A colour gradient with a few soft blobs: [size, size, 3]."""
  xs, ys = (grid / size for grid in _pixel_grid(size))
  base = rng.uniform(0.05, 0.95, 3).astype(np.float32)
  tilt = rng.uniform(-0.35, 0.35, (2, 3))
  image = base + xs[..., None] * tilt[0] + ys[..., None] * tilt[1]
  for _ in range(rng.integers(0, 4)):
    centre = rng.uniform(0, 1, 2)
    radius = rng.uniform(0.08, 0.3)
    blob = np.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (2 * radius ** 2))
    image += blob[..., None] * rng.uniform(-0.3, 0.3, 3)
  return image


def _hand_layers(rng, raised, size):
  """(coverage, outline) maps [size, size] of a hand raising the ``raised`` slots."""
  unit = size * rng.uniform(0.19, 0.25)
  centre = np.array([size * rng.uniform(0.38, 0.62), size * rng.uniform(0.58, 0.68)])
  angle = np.radians(rng.uniform(-30, 30))
  mirror = rng.choice([-1.0, 1.0])
  rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])

  def to_image(points):
    return (points * [mirror, 1.0]) @ rotation.T * unit + centre

  xs, ys = _pixel_grid(size)
  cos, sin = rotation[0, 0], rotation[1, 0]
  local_x = ((xs - centre[0]) * cos + (ys - centre[1]) * sin) / unit * mirror
  local_y = (-(xs - centre[0]) * sin + (ys - centre[1]) * cos) / unit
  palm = np.hypot(local_x / 0.55, local_y / 0.62) * unit * 0.58
  coverage = _soft_inside(palm, unit * 0.58, SUPERSAMPLE)
  wrist = _capsule_distance(xs, ys, *to_image(np.array([[0.0, 0.3], [0.05, 3.0]])))
  coverage = np.maximum(coverage, _soft_inside(wrist, unit * 0.42, SUPERSAMPLE))
  outline = np.zeros_like(coverage)
  radius = unit * _FINGER_RADIUS * rng.uniform(0.9, 1.15)
  for slot, (base_x, base_y, tilt, length) in enumerate(_SLOTS):
    direction = np.radians(tilt + rng.uniform(-7, 7))
    reach = (length * rng.uniform(0.9, 1.08) if slot in raised else _FOLDED_LENGTH)
    if slot == 0 and slot not in raised:
      direction = np.radians(35.0)  # a folded thumb lies across the palm.
      reach = 0.45
    base = np.array([base_x, base_y])
    tip = base + reach * np.array([np.sin(direction), -np.cos(direction)])
    distance = _capsule_distance(xs, ys, *to_image(np.stack([base, tip])))
    finger = _soft_inside(distance, radius, SUPERSAMPLE)
    ring = finger * (1.0 - _soft_inside(distance, radius - 1.2 * SUPERSAMPLE, SUPERSAMPLE))
    outline = np.maximum(outline, ring)
    coverage = np.maximum(coverage, finger)
  return coverage, outline


def draw_sign(rng, num_raised, image_size=64):
  """One uint8 [image_size, image_size, 3] image of a hand raising ``num_raised`` fingers."""
  size = image_size * SUPERSAMPLE
  raised = set(rng.choice(5, size=num_raised, replace=False).tolist())
  coverage, outline = _hand_layers(rng, raised, size)
  skin = _SKIN_TONES[rng.integers(len(_SKIN_TONES))] * rng.uniform(0.85, 1.1, 3)
  xs, ys = (grid / size for grid in _pixel_grid(size))
  light_angle = rng.uniform(0, 2 * np.pi)
  light = 1.0 + rng.uniform(0.1, 0.35) * (np.cos(light_angle) * (xs - 0.5) +
                                          np.sin(light_angle) * (ys - 0.5)) * 2
  hand = skin * light[..., None] * (1.0 - 0.35 * outline[..., None])
  image = _background(rng, size) * (1.0 - coverage[..., None]) + hand * coverage[..., None]
  image *= rng.uniform(0.7, 1.15)  # overall exposure
  image = image.reshape(image_size, SUPERSAMPLE, image_size, SUPERSAMPLE, 3).mean(axis=(1, 3))
  image += rng.normal(0.0, rng.uniform(0.01, 0.05), image.shape)
  return np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)


def draw_set(num_images, seed, stream, image_size=64):
  """(uint8 images [N, S, S, 3], int64 labels [N]) balanced over the classes.

  ``stream`` separates the random streams of the train (0) and test (1) sets.
  """
  rng = np.random.default_rng([seed, stream])
  labels = rng.permutation(np.arange(num_images) % NUM_CLASSES).astype(np.int64)
  images = np.stack([draw_sign(rng, int(label), image_size) for label in labels])
  return images, labels


def generate(num_train=1200, num_test=600, seed=0, image_size=64):
  """(train Split, test Split) of synthetic signs; the test images come from their
  own random stream, so no test image is a training image."""
  classes = np.arange(NUM_CLASSES, dtype=np.int64)
  splits = []
  for stream, (count, name) in enumerate(((num_train, 'train'), (num_test, 'test'))):
    images, labels = draw_set(count, seed, stream, image_size)
    source = 'synthetic signs (%s, seed %d)' % (name, seed)
    splits.append(signs_data.make_split(images, classes, labels, source))
  return tuple(splits)


def write_signs_files(output_dir, num_train=1200, num_test=600, seed=0, image_size=64):
  """Writes train_signs.h5 and test_signs.h5 in the course's exact format."""
  os.makedirs(output_dir, exist_ok=True)
  classes = np.arange(NUM_CLASSES, dtype=np.int64)
  for stream, (count, prefix, filename) in enumerate((
      (num_train, 'train', signs_data.TRAIN_FILE), (num_test, 'test', signs_data.TEST_FILE))):
    images, labels = draw_set(count, seed, stream, image_size)
    path = os.path.join(output_dir, filename)
    with atomic_files.replacing(path, suffix='.h5') as temporary:
      with h5py.File(temporary, 'w') as out:
        out.create_dataset('%s_set_x' % prefix, data=images)
        out.create_dataset('%s_set_y' % prefix, data=labels)
        out.create_dataset('list_classes', data=classes)


def main(argv=None):
  parser = argparse.ArgumentParser(description='Write synthetic SIGNS-format files.')
  parser.add_argument('--output_dir', required=True)
  parser.add_argument('--num_train', type=int, default=1200)
  parser.add_argument('--num_test', type=int, default=600)
  parser.add_argument('--seed', type=int, default=0)
  settings = parser.parse_args(argv)
  write_signs_files(settings.output_dir, settings.num_train, settings.num_test, settings.seed)


if __name__ == '__main__':
  main()
