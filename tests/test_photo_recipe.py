"""The recipe for photographs and "not sure": each --random_* photo transform does what
its help says, --augmentation presets them, training records a calibration fitted on
the validation split, and eval_graph.py prints calibrated confidences, marks unsure
predictions and reports the expected calibration error; runs without a calibration
still evaluate, at temperature 1, saying so."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import netutil
from scriptutil import ROOT, read_json, run_script
from legacy_resnet.data import batching
from legacy_resnet.evaluate import calibration
from legacy_resnet.checkpointing import checkpoints
from legacy_resnet.data import photo_augmentation
from legacy_resnet.data import synthetic_signs
from legacy_resnet.programs import train_cli
from legacy_resnet.settings import derived

pytestmark = netutil.QUIET

SMALL_RUN = ['--model_name', 'resnet_v1_18', '--batch_size', '20', '--max_number_of_steps', '3']
PHOTO_FLAGS = ['--random_crop_scale', '--random_rotation', '--random_hue',
               '--random_saturation', '--random_white_balance', '--random_blur', '--random_noise']
ALL_OFF = ['--random_shift', '0', '--no-horizontal_flip', '--random_brightness', '0',
           '--random_contrast', '0']
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _settings(argv):
  return train_cli.settings_of(argv)


def _augmented(flags, images, seed=0):
  """``images`` through the augmentation of ALL_OFF + ``flags``."""
  augmentation = derived.augmentation(_settings(ALL_OFF + flags).input)
  return batching.augment(images, augmentation, np.random.default_rng(seed))


@pytest.fixture(scope='module')
def hands():
  """float32 [8, 64, 64, 3]: synthetic hand images in [0, 1]."""
  return synthetic_signs.draw_images(8, 0, synthetic_signs.TEST_STREAM)[0].astype(np.float32) / 255


def test_augmentation_presets():
  """'--augmentation' default leaves every photo transform off (the batches of the
  default job stay as they were); photo turns them all on; a flag given overrides."""
  default = _settings([]).input
  assert all(getattr(default, name[2:]) == 0 for name in PHOTO_FLAGS)
  assert derived.augmentation(default).photo is None
  photo = _settings(['--augmentation', 'photo']).input
  assert derived.augmentation(photo).photo == photo_augmentation.PRESETS['photo'].photo
  assert all(getattr(photo, name[2:]) > 0 for name in PHOTO_FLAGS)
  overridden = _settings(['--augmentation', 'photo', '--random_blur', '0']).input
  assert overridden.random_blur == 0 and overridden.random_hue == photo.random_hue
  assert _settings(['--random_hue', '10']).input.random_hue == 10
  # The recipe's length: twice the default job's unless --num_epochs says otherwise.
  assert _settings([]).schedule.num_epochs == 16
  assert _settings(['--augmentation', 'photo']).schedule.num_epochs == 32
  assert _settings(['--augmentation', 'photo', '--num_epochs', '3']).schedule.num_epochs == 3


def test_photo_fraction_transforms_that_share_of_the_images_and_leaves_the_rest(hands):
  """'--photo_fraction' F: each image gets the photo transforms with chance F, the
  others pass exactly as they came; 0 switches the transforms off altogether (the run
  draws what it drew without them); alone, a transform reaches every image."""
  many = np.concatenate([hands] * 8)  # 64 images

  def changed(flags):
    return np.array([not np.array_equal(after, before)
                     for after, before in zip(_augmented(flags, many), many)])

  assert changed(['--random_rotation', '30']).all()
  assert changed(['--random_rotation', '30', '--photo_fraction', '1']).all()
  half = changed(['--random_rotation', '30', '--photo_fraction', '0.5'])
  assert 20 <= half.sum() <= 44
  assert changed(['--random_rotation', '30', '--photo_fraction', '0.1']).sum() < half.sum()
  off = _settings(ALL_OFF + ['--augmentation', 'photo', '--photo_fraction', '0']).input
  assert derived.augmentation(off).photo is None
  assert _settings(['--augmentation', 'photo']).input.photo_fraction == 0.5


@pytest.mark.parametrize('flag,value', [
    ('--random_crop_scale', '0.5'), ('--random_rotation', '30'), ('--random_hue', '30'),
    ('--random_saturation', '0.5'), ('--random_white_balance', '0.3'), ('--random_blur', '1.5'),
    ('--random_noise', '0.05')])
def test_each_photo_flag_alone_changes_a_batch_the_same_way_for_the_same_step(hands, flag, value):
  augmented = _augmented([flag, value], hands)
  assert augmented.shape == hands.shape and augmented.dtype == np.float32
  assert not np.array_equal(augmented, hands)
  np.testing.assert_array_equal(augmented, _augmented([flag, value], hands))
  assert 0.0 <= augmented.min() and augmented.max() <= 1.0


def test_hue_and_saturation_keep_brightness_white_balance_scales_channels(hands):
  """'--random_hue' and '--random_saturation' change colours, not brightness (while
  nothing is clipped); '--random_white_balance' scales each channel of an image by
  one factor within 1 +- its value."""
  middle = 0.25 + 0.5 * hands  # away from 0 and 1, so clipping does not interfere
  for flag in (['--random_hue', '40'], ['--random_saturation', '0.2']):
    turned = _augmented(flag, middle)
    np.testing.assert_allclose(turned @ LUMA, middle @ LUMA, atol=1e-4)
    assert np.abs(turned - middle).max() > 0.01
  balanced = _augmented(['--random_white_balance', '0.3'], middle)
  ratios = balanced / middle
  spread = ratios.max(axis=(1, 2)) - ratios.min(axis=(1, 2))
  assert spread.max() < 1e-4
  factors = ratios[:, 0, 0]
  assert factors.min() >= 0.7 - 1e-5 and factors.max() <= 1.3 + 1e-5
  assert np.abs(factors - 1.0).max() > 0.05


def test_blur_smooths_noise_adds_spread_neither_touches_the_mean(hands):
  """'--random_blur' lowers the differences between neighbouring pixels; '--random_noise'
  adds noise of at most its standard deviation to a flat grey image."""
  blurred = _augmented(['--random_blur', '2'], hands)
  step = lambda images: np.abs(np.diff(images, axis=2)).mean(axis=(1, 2, 3))  # noqa: E731
  assert np.all(step(blurred) <= step(hands) + 1e-6) and step(blurred).mean() < step(hands).mean()
  np.testing.assert_allclose(blurred.mean(), hands.mean(), atol=0.01)
  grey = np.full((8, 64, 64, 3), 0.5, np.float32)
  noisy = _augmented(['--random_noise', '0.05'], grey)
  spread = noisy.std(axis=(1, 2, 3))
  assert spread.max() <= 0.055 and spread.mean() > 0.005
  np.testing.assert_allclose(_augmented(['--random_blur', '2'], grey), grey, atol=1e-6)


def test_crop_scale_zooms_within_its_range_and_rotation_turns(hands):
  """'--random_crop_scale' 0.5 zooms a horizontal ramp by a factor in [1/1.5, 1.5]: its
  slope changes by that factor (rows stay ramps); '--random_rotation' 90 turns it by up
  to a quarter turn, so columns are no longer constant."""
  ramp = np.broadcast_to(np.linspace(0.2, 0.8, 64, dtype=np.float32)[None, None, :, None],
                         (8, 64, 64, 3)).copy()
  zoomed = _augmented(['--random_crop_scale', '0.5'], ramp)
  middle = slice(24, 40)
  slopes = np.diff(zoomed[:, 32, middle, 0], axis=1).mean(axis=1) / np.diff(
      ramp[:, 32, middle, 0], axis=1).mean(axis=1)
  assert slopes.min() >= 1 / 1.5 - 1e-3 and slopes.max() <= 1.5 + 1e-3
  assert slopes.max() - slopes.min() > 0.05
  np.testing.assert_allclose(zoomed[:, :, :, 0].std(axis=1), 0.0, atol=1e-5)
  turned = _augmented(['--random_rotation', '90'], ramp)
  assert turned[:, :, 32, 0].std(axis=1).max() > 0.01


def test_photo_augmentation_bad_values_are_one_error_line(tmp_path):
  for flag, value in (('--random_rotation', '200'), ('--random_saturation', '1.5'),
                      ('--random_noise', '-1'), ('--augmentation', 'film'),
                      ('--photo_fraction', '1.5')):
    result = run_script('train_graph.py', '--train_dir', str(tmp_path), flag, value,
                        check=False)
    assert result.returncode == 2, (flag, result.stderr)
    assert result.stderr.startswith('error: ') and flag in result.stderr
    assert 'Traceback' not in result.stderr


# Calibration: numbers.


def test_fit_temperature_recovers_the_temperature_that_made_the_labels():
  rng = np.random.default_rng(0)
  logits = rng.normal(0.0, 3.0, (4000, 6))
  true_temperature = 2.5
  probabilities = calibration.scaled(np.exp(logits) / np.exp(logits).sum(1, keepdims=True),
                                     1.0)
  tempered = calibration.scaled(probabilities, true_temperature)
  labels = np.array([rng.choice(6, p=row) for row in tempered])
  assert calibration.fit_temperature(probabilities, labels) == pytest.approx(
      true_temperature, rel=0.1)
  # The calibrated probabilities are better calibrated than the network's own.
  assert (calibration.expected_calibration_error(tempered, labels) <
          calibration.expected_calibration_error(probabilities, labels))


def test_fit_temperature_never_sharpens():
  """A validation split the network gets all right would fit T -> 0 (every confidence
  1, every image "not sure"); an under-confident network, T < 1. The fit stays at 1, and
  the threshold marks the least confident share of the split."""
  rng = np.random.default_rng(0)
  labels = rng.integers(0, 6, 200)
  probabilities = np.full((200, 6), 0.1)
  probabilities[np.arange(200), labels] = rng.uniform(0.3, 0.6, 200)
  probabilities /= probabilities.sum(axis=1, keepdims=True)
  recorded = calibration.fit(probabilities, labels)
  assert recorded['temperature'] == pytest.approx(1.0, abs=1e-3)
  assert recorded['unsure_below'] < 0.6
  assert np.mean(probabilities.max(axis=1) < recorded['unsure_below']) == pytest.approx(
      calibration.UNSURE_SHARE, abs=0.01)


def test_expected_calibration_error_by_hand():
  """15 equal-width bins: four images at confidence 0.9 (bin 13), three right; two at
  0.5 (bin 7), both right: (4 * |0.75 - 0.9| + 2 * |1 - 0.5|) / 6."""
  probabilities = np.array([[0.9, 0.1]] * 4 + [[0.5, 0.5]] * 2)
  labels = np.array([0, 0, 0, 1, 0, 0])
  assert calibration.expected_calibration_error(probabilities, labels) == pytest.approx(
      (4 * 0.15 + 2 * 0.5) / 6)
  assert calibration.ECE_BINS == 15


def test_unsure_threshold_marks_its_share_of_the_validation_images():
  confidences = np.linspace(0.2, 1.0, 200)
  threshold = calibration.unsure_threshold(confidences)
  assert np.mean(confidences < threshold) == pytest.approx(calibration.UNSURE_SHARE, abs=0.01)


# Calibration: the programs.


@pytest.fixture(scope='module')
def calibrated_dir(signs_dir, tmp_path_factory):
  """A 3-step resnet_v1_18 run with the photo recipe (a validation split of 6 images)."""
  train_dir = str(tmp_path_factory.mktemp('photo_run'))
  run_script('train_graph.py', '--dataset_dir', signs_dir, '--train_dir', train_dir,
             '--augmentation', 'photo', *SMALL_RUN)
  return train_dir


def write_shifted_pngs(folder, count):
  """(paths, labels) of ``count`` shifted-style synthetic images written as PNG files
  into ``folder``."""
  images, labels = synthetic_signs.draw_images(count, 0, synthetic_signs.TEST_STREAM,
                                               style='shifted')
  paths = [str(folder / ('s%03d.png' % index)) for index in range(count)]
  for path, image in zip(paths, images):
    tf.io.write_file(path, tf.io.encode_png(image))
  return paths, labels


@pytest.fixture(scope='module')
def shifted_pngs(tmp_path_factory):
  """(paths, labels) of 12 shifted-style synthetic images written as PNG files."""
  return write_shifted_pngs(tmp_path_factory.mktemp('shifted_png'), 12)


def test_training_records_a_calibration_fitted_on_the_validation_split(calibrated_dir):
  recorded = read_json(os.path.join(calibrated_dir, checkpoints.METADATA_FILE))['calibration']
  assert recorded['fitted_on'] == 'validation' and recorded['num_examples'] == 6
  assert recorded['temperature'] > 0 and 0 <= recorded['unsure_below'] <= 1
  assert recorded['ece_bins'] == 15


def _printed(stdout):
  """{path: (confidence, marked unsure)} of eval_graph.py --images --top_k 1 lines."""
  rows = {}
  for line in stdout.splitlines():
    if line.endswith('.png') or '.png: ' not in line:
      continue
    path, rest = line.split(': ', 1)
    rows[path] = (float(rest.split()[1].rstrip(',')), rest.endswith(calibration.UNSURE_MARK))
  return rows


def test_images_get_calibrated_confidence_and_a_mark_below_the_threshold(
    calibrated_dir, shifted_pngs):
  paths, _ = shifted_pngs
  recorded = read_json(os.path.join(calibrated_dir, checkpoints.METADATA_FILE))['calibration']
  result = run_script('eval_graph.py', '--checkpoint_path', calibrated_dir, '--top_k', '1',
                      '--images', *paths)
  assert 'confidences calibrated (temperature %.3f)' % recorded['temperature'] in result.stdout
  rows = _printed(result.stdout)
  assert sorted(rows) == sorted(paths)
  for confidence, unsure in rows.values():
    assert unsure == (confidence < recorded['unsure_below'] - 5e-4) or abs(
        confidence - recorded['unsure_below']) <= 5e-4


def test_report_has_the_expected_calibration_error(calibrated_dir, signs_dir, tmp_path):
  report_path = str(tmp_path / 'eval.json')
  result = run_script('eval_graph.py', '--checkpoint_path', calibrated_dir, '--report',
                      report_path, '--dataset_dir', signs_dir)
  report = read_json(report_path)
  assert 0.0 <= report['expected_calibration_error'] <= 1.0
  assert report['calibration']['ece_bins'] == 15
  assert report['calibration']['temperature'] == pytest.approx(read_json(os.path.join(
      calibrated_dir, checkpoints.METADATA_FILE))['calibration']['temperature'])
  assert 'expected calibration error %.4f (15 equal-width bins' % report[
      'expected_calibration_error'] in result.stdout


def test_a_run_without_calibration_evaluates_at_temperature_one_and_says_so(
    calibrated_dir, shifted_pngs, tmp_path):
  """An old run (no calibration entry) gives the network's own probabilities, no
  marks, and a note; python -m legacy_resnet.programs.calibrate fits one for it."""
  import shutil
  old = str(tmp_path / 'old')
  shutil.copytree(calibrated_dir, old)
  metadata_path = os.path.join(old, checkpoints.METADATA_FILE)
  metadata = read_json(metadata_path)
  del metadata['calibration']
  with open(metadata_path, 'w', encoding='utf-8') as stream:
    json.dump(metadata, stream)
  paths, _ = shifted_pngs
  result = run_script('eval_graph.py', '--checkpoint_path', old, '--top_k', '1', '--images',
                      *paths)
  assert 'has no calibration' in result.stderr and 'temperature 1' in result.stderr
  assert not any(unsure for _, unsure in _printed(result.stdout).values())
  fitted = subprocess.run([sys.executable, '-m', 'legacy_resnet.programs.calibrate',
                           '--checkpoint_path', old], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)
  assert fitted.returncode == 0, fitted.stderr
  assert read_json(metadata_path)['calibration']['fitted_on'] == 'validation'
  metadata['calibration'] = {'temperature': -1, 'unsure_below': 0.5}
  with open(metadata_path, 'w', encoding='utf-8') as stream:
    json.dump(metadata, stream)
  damaged = run_script('eval_graph.py', '--checkpoint_path', old, '--images', paths[0],
                       check=False)
  assert damaged.returncode == 2 and damaged.stderr.startswith('error: ')
  assert 'calibration' in damaged.stderr and 'Traceback' not in damaged.stderr


def test_images_mark_wrong_predictions_unsure_more_often_than_right_ones(tmp_path, capsys):
  """A resnet_v1_18 trained 10 epochs on the embedded set with the photo recipe, then
  eval_graph.py --images on 600 shifted-style images: the share of wrong predictions
  marked "not sure" is larger than the share of right ones (the numbers are printed)."""
  train_dir = str(tmp_path / 'run')
  run_script('train_graph.py', '--train_dir', train_dir, '--model_name', 'resnet_v1_18',
             '--augmentation', 'photo', '--num_epochs', '10')
  paths, labels = write_shifted_pngs(tmp_path, 600)
  result = run_script('eval_graph.py', '--checkpoint_path', train_dir, '--top_k', '1',
                      '--images', *paths)
  names = synthetic_signs.class_names()
  right, unsure = [], []
  for line in result.stdout.splitlines():
    if '.png: ' in line:
      path, rest = line.split(': ', 1)
      right.append(rest.split()[0] == names[labels[paths.index(path)]])
      unsure.append(rest.endswith(calibration.UNSURE_MARK))
  right, unsure = np.array(right), np.array(unsure)
  assert len(right) == 600
  of_right, of_wrong = unsure[right].mean(), unsure[~right].mean()
  with capsys.disabled():
    print('\n%d right, %d wrong on the shifted set; "not sure" marks %.3f of the right, '
          '%.3f of the wrong' % (right.sum(), (~right).sum(), of_right, of_wrong))
  assert of_wrong > of_right
