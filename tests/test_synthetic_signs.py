"""The synthetic hand signs: deterministic, balanced, truly held out, readable by the
SIGNS reader, and neither noise nor solvable by a linear classifier."""

import hashlib
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest
from scriptutil import ROOT

from legacy_resnet.data import signs_data
from legacy_resnet.data import synthetic_signs


@pytest.fixture(scope='module')
def signs():
  """(train Split, test Split): 600 and 300 images, seed 0."""
  return synthetic_signs.generate(num_train=600, num_test=300, seed=0)


def test_same_seed_gives_identical_pixels_and_other_seed_does_not():
  first_train, first_test = synthetic_signs.generate(num_train=30, num_test=12, seed=4)
  again_train, again_test = synthetic_signs.generate(num_train=30, num_test=12, seed=4)
  other_train, _ = synthetic_signs.generate(num_train=30, num_test=12, seed=5)
  assert first_train.images.tobytes() == again_train.images.tobytes()
  assert first_test.images.tobytes() == again_test.images.tobytes()
  np.testing.assert_array_equal(first_train.labels, again_train.labels)
  assert not np.array_equal(first_train.images, other_train.images)


def test_shapes_dtypes_and_pixel_range(signs):
  train, test = signs
  assert train.images.shape == (600, 64, 64, 3) and test.images.shape == (300, 64, 64, 3)
  assert train.images.dtype == np.float32 and train.labels.dtype == np.int64
  assert 0.0 <= train.images.min() and train.images.max() <= 1.0
  # uint8 pixels scaled once: every value is a multiple of 1/255.
  np.testing.assert_allclose(train.images * 255.0, np.round(train.images * 255.0), atol=1e-4)
  assert train.class_names == test.class_names == ['0', '1', '2', '3', '4', '5']


def test_other_image_size():
  train, _ = synthetic_signs.generate(num_train=6, num_test=6, image_size=96)
  assert train.images.shape == (6, 96, 96, 3)


def test_classes_are_balanced_and_shuffled(signs):
  train, test = signs
  assert np.bincount(train.labels, minlength=6).tolist() == [100] * 6
  assert np.bincount(test.labels, minlength=6).tolist() == [50] * 6
  assert not np.array_equal(train.labels[:6], np.arange(6))
  assert len(set(train.labels[:12].tolist())) > 2


def test_no_test_image_is_a_training_image(signs):
  train, test = signs
  train_images = {image.tobytes() for image in train.images}
  assert not any(image.tobytes() in train_images for image in test.images)
  assert len(train_images) == len(train.images)


def test_written_files_read_back_identically(tmp_path):
  synthetic_signs.write_signs_files(str(tmp_path), num_train=24, num_test=12, seed=3)
  read_train, read_test = signs_data.load_dataset_dir(str(tmp_path))
  train, test = synthetic_signs.generate(num_train=24, num_test=12, seed=3)
  for read, made in ((read_train, train), (read_test, test)):
    assert read.images.tobytes() == made.images.tobytes()
    np.testing.assert_array_equal(read.labels, made.labels)
    assert read.class_names == made.class_names
  assert sorted(os.listdir(tmp_path)) == [signs_data.TEST_FILE, signs_data.TRAIN_FILE]


def test_written_files_have_the_course_layout(tmp_path):
  synthetic_signs.write_signs_files(str(tmp_path), num_train=12, num_test=6)
  with h5py.File(tmp_path / signs_data.TRAIN_FILE, 'r') as handle:
    assert sorted(handle) == ['list_classes', 'train_set_x', 'train_set_y']
    assert handle['train_set_x'].dtype == np.uint8
    assert handle['train_set_x'].shape == (12, 64, 64, 3)
    assert handle['train_set_y'].dtype == np.int64 and handle['train_set_y'].shape == (12,)
    assert handle['list_classes'][()].tolist() == [0, 1, 2, 3, 4, 5]


def write_with_the_command(folder, *flags):
  """Runs ``python -m legacy_resnet.data.synthetic_signs`` into ``folder`` (12 training and
  6 test images) with ``flags``; returns the files' (train, test) splits."""
  result = subprocess.run(
      [sys.executable, '-m', 'legacy_resnet.data.synthetic_signs', '--output_dir', str(folder),
       '--num_train', '12', '--num_test', '6'] + list(flags),
      capture_output=True, text=True, cwd=ROOT, timeout=300)
  assert result.returncode == 0, result.stderr
  return signs_data.load_dataset_dir(str(folder))


def test_command_line_writes_the_files(tmp_path):
  train, test = write_with_the_command(tmp_path, '--seed', '2')
  assert len(train.labels) == 12 and len(test.labels) == 6


def _ridge_accuracy(train, test, strength=0.1):
  """Held-out accuracy of one-vs-rest least squares on raw pixels (a linear
  classifier), solved in closed form through the N x N Gram matrix."""
  features = train.images.reshape(len(train.labels), -1).astype(np.float64)
  mean = features.mean(axis=0)
  features -= mean
  targets = np.eye(6)[train.labels]
  gram = features @ features.T
  ridge = strength * np.trace(gram) / len(gram) * np.eye(len(gram))
  weights = features.T @ np.linalg.solve(gram + ridge, targets)
  held_out = test.images.reshape(len(test.labels), -1) - mean
  return np.mean(np.argmax(held_out @ weights, axis=1) == test.labels)


def test_linear_classifier_finds_some_signal_but_does_not_solve_it(signs):
  accuracy = _ridge_accuracy(*signs)
  assert 0.2 < accuracy < 0.6  # chance is 1/6


# A digest of the default set's first images, taken before styles existed: the default
# style must keep drawing exactly these pixels, labels and boxes.
DEFAULT_TEST_DIGEST = 'd5844e21dfb8d9aa0a1d9633af1d0af4'


def test_default_style_draws_the_images_it_drew_before_styles_existed():
  images, labels, boxes = synthetic_signs.draw_images(
      200, 0, synthetic_signs.TEST_STREAM, with_boxes=True, style='default')
  digest = hashlib.md5(images.tobytes() + labels.tobytes() + boxes.tobytes()).hexdigest()
  assert digest == DEFAULT_TEST_DIGEST


def test_shifted_style_differs_in_what_it_says():
  """The shifted set: other pixels, hands placed and sized more widely, less sharp;
  balanced classes and boxes inside the image all the same."""
  default_images, _, default_boxes = synthetic_signs.draw_images(
      300, 0, synthetic_signs.TEST_STREAM, with_boxes=True)
  images, labels, boxes = synthetic_signs.draw_images(
      300, 0, synthetic_signs.TEST_STREAM, with_boxes=True, style='shifted')
  assert not np.array_equal(images, default_images)
  assert np.bincount(labels, minlength=6).tolist() == [50] * 6
  assert boxes.min() >= 0.0 and boxes.max() <= 64.0
  centres, default_centres = ((b[:, :2] + b[:, 2:]) / 2 for b in (boxes, default_boxes))
  assert centres.std(axis=0).min() > 1.5 * default_centres.std(axis=0).min()
  areas, default_areas = ((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
                          for b in (boxes, default_boxes))
  assert np.ptp(areas) > np.ptp(default_areas)
  # Blur and JPEG: less energy between neighbouring pixels.
  def sharpness(pictures):
    return np.mean(np.abs(np.diff(pictures.astype(np.float32), axis=2)))
  assert sharpness(images) < sharpness(default_images)


def test_command_line_writes_the_shifted_set(tmp_path):
  _, test = write_with_the_command(tmp_path, '--style', 'shifted')
  made = synthetic_signs.generate_split('test', 6, style='shifted')
  assert test.images.tobytes() == made.images.tobytes()
  assert 'shifted style' in made.source
