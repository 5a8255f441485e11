"""The pictures: confusion matrix, mistakes sheet, FCN heatmaps and training curves.
Each PNG is opened and checked for its size, that it is not blank, and for its number
of panels (black frames) or tiles (red frames)."""

import os

import h5py
import numpy as np
import pytest
import tensorflow as tf
from scriptutil import read_json
from scriptutil import run_script

from legacy_resnet.data import batching
from legacy_resnet.data import synthetic_signs
from legacy_resnet.evaluate import evaluation
from legacy_resnet.evaluate import heatmaps
from legacy_resnet.evaluate import plots
from legacy_resnet.core.errors import Stopped
from legacy_resnet.core.errors import UsageError
from legacy_resnet.train import training_curves
from nets import nets_factory

# The pictures are optional (the `plots` extra); without matplotlib there is nothing to test.
matplotlib_image = pytest.importorskip('matplotlib.image')

BLACK = (0, 0, 0)
RED = tuple(int(plots.MISTAKE_FRAME[i:i + 2], 16) for i in (1, 3, 5))
# The trained fixture: resnet_v1_18 on synthetic signs, long enough to localize hands.
NUM_TRAIN, NUM_TEST, SEED = 600, 60, 2
# This run reaches about 25% held-out accuracy; its peaks fell in the hand box for 40
# of 120 test images (33%; against the next image's box: 28%), most others on the
# image border. Longer-trained runs localize better.
IN_BOX_FLOOR = 0.25


def read_png(path):
  """uint8 [H, W, 3] pixels of a PNG file."""
  return (matplotlib_image.imread(path)[..., :3] * 255).round().astype(np.uint8)


def assert_not_blank(pixels):
  assert pixels.std() > 10, 'the picture is (nearly) one colour'


def count_frames(pixels, colour, min_length, tolerance=40):
  """The number of rectangular frames of ``colour``: vertical runs of that colour at
  least ``min_length`` pixels long, neighbouring columns merged, two per frame."""
  matches = np.all(np.abs(pixels.astype(int) - colour) <= tolerance, axis=-1)
  groups = []  # [last column, top, bottom]
  for column in range(matches.shape[1]):
    padded = np.concatenate([[0], matches[:, column].astype(int), [0]])
    edges = np.flatnonzero(np.diff(padded))
    for top, bottom in zip(edges[::2], edges[1::2]):
      if bottom - top < min_length:
        continue
      for group in groups:
        if group[0] == column - 1 and top < group[2] and bottom > group[1]:
          group[:] = [column, min(top, group[1]), max(bottom, group[2])]
          break
      else:
        groups.append([column, top, bottom])
  assert len(groups) % 2 == 0, 'an unpaired frame side'
  return len(groups) // 2


def test_confusion_matrix_has_two_panels(tmp_path):
  path = str(tmp_path / 'confusion.png')
  matrix = np.array([[5, 1, 0], [0, 4, 2], [1, 0, 7]])
  plots.confusion_matrix(path, matrix, ['rock', 'paper', 'scissors'], 'a title')
  pixels = read_png(path)
  assert pixels.shape[0] > 250 and pixels.shape[1] > 2 * pixels.shape[0] * 0.8
  assert_not_blank(pixels)
  assert count_frames(pixels, BLACK, pixels.shape[0] // 4) == 2


def _probabilities_with_mistakes(labels, wrong, num_classes):
  """float [N, C]: confident right answers, and wrong ones at ``wrong`` indices."""
  predicted = labels.copy()
  predicted[wrong] = (labels[wrong] + 1) % num_classes
  probabilities = np.full((len(labels), num_classes), 0.1 / (num_classes - 1))
  probabilities[np.arange(len(labels)), predicted] = 0.9
  return probabilities


@pytest.mark.parametrize('num_wrong, max_tiles, tiles', [(11, 48, 11), (11, 5, 5), (0, 48, 0)])
def test_mistakes_sheet_has_one_tile_per_mistake(tmp_path, num_wrong, max_tiles, tiles):
  images, labels = synthetic_signs.draw_images(20, seed=3, stream=synthetic_signs.TEST_STREAM)
  wrong = np.arange(num_wrong) * 7 % 20  # distinct indices
  probabilities = _probabilities_with_mistakes(labels, wrong, 6)
  path = str(tmp_path / 'mistakes.png')
  names = synthetic_signs.class_names()
  assert plots.mistakes(path, images / 255.0, labels, probabilities, names, max_tiles) == tiles
  pixels = read_png(path)
  assert_not_blank(pixels)
  assert count_frames(pixels, RED, 50) == tiles
  if tiles:
    assert pixels.shape[1] >= 150 * min(tiles, 8)


def test_mistake_order_puts_confident_mistakes_first():
  labels = np.array([0, 1, 1, 0])
  probabilities = np.array([[0.9, 0.1], [0.6, 0.4], [0.8, 0.2], [0.3, 0.7]])
  assert plots.mistake_order(labels, probabilities).tolist() == [2, 3, 1]


def test_heatmap_is_hot_at_the_peak(tmp_path):
  path = str(tmp_path / 'heatmap.png')
  image = np.full((64, 96, 3), 0.5, np.float32)
  score_map = np.zeros((4, 6), np.float32)
  score_map[1, 4] = 10.0
  with plots.HeatmapPictures() as pictures:
    pictures.write(path, image, score_map, 16, 'title', peak=None)
  pixels = read_png(path).astype(int)
  assert_not_blank(pixels)
  # The overlay is coloured everywhere (jet: blue at the lowest score, red at the
  # highest); the title is grey. The coloured area keeps the image's 3:2 shape.
  rows, columns = np.nonzero(pixels.max(axis=-1) - pixels.min(axis=-1) > 30)
  top, height = rows.min(), rows.max() + 1 - rows.min()
  left, width = columns.min(), columns.max() + 1 - columns.min()
  assert width / height == pytest.approx(1.5, abs=0.05)

  def colour_at(x, y):  # image pixel -> the PNG's colour there
    return pixels[top + int(y / 64 * height), left + int(x / 96 * width)]

  red, _, blue = colour_at(4 * 16, 1 * 16)
  assert red > blue + 60
  red, _, blue = colour_at(4, 60)
  assert blue > red + 30


def test_a_redrawn_heatmap_picture_equals_a_fresh_one(tmp_path):
  rng = np.random.default_rng(0)
  first, second = rng.uniform(size=(2, 64, 96, 3))
  first_map, second_map = rng.normal(size=(2, 4, 6))
  title = 'b.png\npredicted 1 0.50'
  with plots.HeatmapPictures() as pictures:
    pictures.write(str(tmp_path / 'fresh.png'), second, second_map, 16, title, peak=(10, 20))
  with plots.HeatmapPictures() as pictures:
    pictures.write(str(tmp_path / 'a.png'), first, 10 * first_map, 16, 'a longer title\nline 2')
    pictures.write(str(tmp_path / 'redrawn.png'), second, second_map, 16, title, peak=(10, 20))
    pictures.write(str(tmp_path / 'tall.png'), first[:, :40], first_map[:, :3], 16, 'tall')
  fresh = read_png(str(tmp_path / 'fresh.png'))
  np.testing.assert_array_equal(read_png(str(tmp_path / 'redrawn.png')), fresh)
  assert not np.array_equal(read_png(str(tmp_path / 'a.png')), fresh)
  tall = read_png(str(tmp_path / 'tall.png'))
  assert tall.shape[0] > tall.shape[1] and fresh.shape[1] > fresh.shape[0]


def test_training_curves_have_two_panels(tmp_path):
  path = str(tmp_path / 'curves.png')
  epochs = np.arange(1, 6, dtype=float)
  plots.training_curves(path, epochs, {'training loss': [2, 1.5, 1, 0.8, 0.7],
                                       'held-out accuracy': [0.2, 0.4, np.nan, 0.7, 0.8]})
  pixels = read_png(path)
  assert_not_blank(pixels)
  assert count_frames(pixels, BLACK, pixels.shape[0] // 3) == 2


def test_per_epoch_means_and_held_out_points():
  scalars = {'loss': {5: 2.0, 10: 1.0, 15: 0.5, 20: 0.25}, 'accuracy': {10: 0.5, 20: 1.0},
             'eval/accuracy': {10: 0.4}}
  epochs, series = training_curves.per_epoch(
      scalars, steps_per_epoch=10, results=[{'accuracy': 0.9, 'loss': 0.3, 'global_step': 20}])
  assert epochs.tolist() == [1, 2]
  assert series['training loss'].tolist() == [1.5, 0.375]
  assert series['training accuracy'].tolist() == [0.5, 1.0]
  assert series['held-out accuracy'].tolist() == [0.4, 0.9]
  assert np.isnan(series['held-out loss'][0]) and series['held-out loss'][1] == 0.3


def test_read_scalars_of_event_files(tmp_path):
  _write_events(tmp_path, [('loss_1', 10, 1.0), ('loss_1', 20, 0.5), ('eval/loss', 20, 0.75)])
  assert training_curves.read_scalars(str(tmp_path)) == {'loss': {10: 1.0, 20: 0.5},
                                                         'eval/loss': {20: 0.75}}


def _write_events(train_dir, tag_values):
  with tf.Graph().as_default():
    writer = tf.compat.v1.summary.FileWriter(str(train_dir))
    for tag, step, value in tag_values:
      writer.add_summary(tf.compat.v1.Summary(value=[
          tf.compat.v1.Summary.Value(tag=tag, simple_value=value)]), step)
    writer.close()


@pytest.mark.parametrize('ending, written', [(Stopped('stopped by SIGINT', 130), True),
                                             (KeyboardInterrupt(), True),
                                             (UsageError('bad'), False), (None, True)])
def test_curves_written_at_the_end_or_on_a_stop_only(tmp_path, ending, written):
  _write_events(tmp_path, [('loss', 5, 2.0), ('accuracy', 5, 0.3), ('eval/accuracy', 10, 0.5)])
  try:
    with training_curves.written_at_end(str(tmp_path), steps_per_epoch=10):
      if ending:
        raise ending
  except (Stopped, KeyboardInterrupt, UsageError) as error:
    assert error is ending
  assert os.path.exists(tmp_path / training_curves.CURVES_FILE) == written
  with training_curves.written_at_end(str(tmp_path / 'none'), 10, chief=False):
    pass
  assert not os.path.exists(tmp_path / 'none')


def test_predictions_and_peaks():
  score_map = np.zeros((4, 5, 3), np.float32)
  score_map[..., 2] = 1.0
  score_map[3, 1, 2] = 5.0
  score_map[0, 0, 0] = 6.0  # the highest value, but class 0 has the lower mean
  predicted, probability, peaks = heatmaps.predictions_and_peaks([score_map], 8)
  assert predicted.tolist() == [2]
  logits = score_map.mean(axis=(0, 1))
  assert probability[0] == pytest.approx(np.exp(logits[2]) / np.exp(logits).sum(), rel=1e-5)
  assert peaks.tolist() == [[8.0, 24.0]]
  boxes = np.array([[0, 20, 10, 30], [9, 0, 64, 64]])
  assert heatmaps.inside(np.repeat(peaks, 2, axis=0), boxes).tolist() == [True, False]


FAST_FCN_NETWORKS = ('resnet_v1_18', 'resnet_v1_50')  # a basic-block and a bottleneck net


@pytest.mark.parametrize('name', [
    name if name in FAST_FCN_NETWORKS else pytest.param(name, marks=pytest.mark.slow)
    for name in sorted(nets_factory.networks_map)
    if nets_factory.declaration(name).fully_convolutional])
def test_every_fcn_network_gives_a_class_map_of_any_size(name):
  with tf.Graph().as_default():
    images = tf.compat.v1.placeholder(tf.float32, [1, 80, 48, 3])
    logits, _ = nets_factory.get_network_fn(name, 6)(
        images, **evaluation.fully_convolutional_args(name, 'heatmaps', 16))
  assert logits.shape.as_list() == [1, 5, 3, 6]


def test_resnet50_signs_has_no_fcn_mode():
  with pytest.raises(UsageError) as refused:
    evaluation.fully_convolutional_args('resnet50_signs', 'heatmaps', 16)
  assert refused.value.naming(lambda name: '--' + name).startswith(
      '--heatmaps: resnet50_signs has no fully convolutional mode')


def test_hand_boxes_hold_the_hands():
  images, labels, boxes = synthetic_signs.draw_images(24, 5, synthetic_signs.TEST_STREAM,
                                                      with_boxes=True)
  assert np.all(boxes[:, :2] >= 0) and np.all(boxes[:, 2:] <= 64)
  assert np.all(boxes[:, 2:] - boxes[:, :2] > 10)
  areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
  assert np.all(areas < 0.7 * 64 * 64)


# End to end, as subprocesses, on one trained run.


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  """(train dir, dataset dir) of a 4-epoch resnet_v1_18 run on synthetic signs."""
  dataset_dir = str(tmp_path_factory.mktemp('signs600'))
  synthetic_signs.write_signs_files(dataset_dir, NUM_TRAIN, NUM_TEST, SEED)
  train_dir = str(tmp_path_factory.mktemp('fast18'))
  result = run_script('train_graph.py', '--dataset_dir', dataset_dir, '--train_dir', train_dir,
                      '--model_name', 'resnet_v1_18', '--num_epochs', '4')
  assert 'wrote %s' % os.path.join(train_dir, 'curves.png') in result.stdout
  return train_dir, dataset_dir


def test_training_writes_curves(trained):
  pixels = read_png(os.path.join(trained[0], training_curves.CURVES_FILE))
  assert_not_blank(pixels)
  assert count_frames(pixels, BLACK, pixels.shape[0] // 3) == 2
  steps_per_epoch = batching.steps_per_epoch(NUM_TRAIN - NUM_TRAIN // 10, 32)  # 10% validation
  epochs, series = training_curves.per_epoch(training_curves.read_scalars(trained[0]),
                                             steps_per_epoch)
  assert epochs.tolist() == [1, 2, 3, 4]
  assert sorted(series) == ['test accuracy', 'test loss', 'training accuracy', 'training loss',
                            'validation accuracy', 'validation loss']
  assert not np.isnan(series['validation accuracy']).any()  # After every epoch,
  assert np.isnan(series['test accuracy'][:3]).all()  # the test file only at the end.
  assert not np.isnan(series['test accuracy'][3])


def test_evaluation_plots_beside_the_report(trained, tmp_path):
  run_script('eval_graph.py', '--checkpoint_path', trained[0], '--report',
             tmp_path / 'report.json')
  report = read_json(tmp_path / 'report.json')
  pixels = read_png(tmp_path / 'confusion_matrix.png')
  assert count_frames(pixels, BLACK, pixels.shape[0] // 4) == 2
  mistakes = report['num_examples'] - int(np.trace(report['confusion_matrix']))
  assert count_frames(read_png(tmp_path / 'mistakes.png'), RED, 50) == min(mistakes, 48)


def test_plots_flag_makes_its_folder(trained, tmp_path):
  folder = tmp_path / 'new' / 'plots'
  result = run_script('eval_graph.py', '--checkpoint_path', trained[0], '--plots', folder)
  assert 'wrote' in result.stdout
  assert sorted(os.listdir(folder)) == ['confusion_matrix.png', 'mistakes.png']


def test_heatmap_peaks_lie_in_the_hand_boxes(trained, tmp_path):
  """The peak of the predicted class's map lies in the hand's box, for at least
  IN_BOX_FLOOR of the held-out images of this short run."""
  result = run_script('eval_graph.py', '--checkpoint_path', trained[0], '--heatmaps',
                      tmp_path, '--output_stride', '8')
  assert 'wrote %d heatmaps' % NUM_TEST in result.stdout
  pngs = sorted(name for name in os.listdir(tmp_path) if name.endswith('.png'))
  assert len(pngs) == NUM_TEST
  assert_not_blank(read_png(tmp_path / pngs[0]))
  maps = heatmaps.read_maps(tmp_path / heatmaps.HDF5_FILE)
  assert len(maps) == NUM_TEST and maps[0].shape == (8, 8, 6)
  with h5py.File(tmp_path / heatmaps.HDF5_FILE, 'r') as source:
    peaks = source['peaks'][...]
    assert source['labels'].shape == (NUM_TEST,)
    assert source.attrs['output_stride'] == 8
  boxes = synthetic_signs.draw_images(NUM_TEST, SEED, synthetic_signs.TEST_STREAM, with_boxes=True)[2]
  fraction = heatmaps.inside(peaks, boxes).mean()
  assert fraction >= IN_BOX_FLOOR, fraction


def test_heatmaps_of_images_of_different_sizes(trained, tmp_path):
  images, _ = synthetic_signs.draw_images(2, 0, synthetic_signs.TEST_STREAM, image_size=80)
  paths = [str(tmp_path / 'square.png'), str(tmp_path / 'tall.png')]
  matplotlib_image.imsave(paths[0], images[0])
  matplotlib_image.imsave(paths[1], images[1][:, 16:64])
  out = tmp_path / 'maps'
  run_script('eval_graph.py', '--checkpoint_path', trained[0], '--images', *paths,
             '--heatmaps', out)
  assert [m.shape for m in heatmaps.read_maps(out / heatmaps.HDF5_FILE)] == [(5, 5, 6),
                                                                               (5, 3, 6)]
  square, tall = read_png(out / 'heatmap_0000.png'), read_png(out / 'heatmap_0001.png')
  assert tall.shape[0] > tall.shape[1] and square.shape[1] > tall.shape[1]


@pytest.mark.parametrize('flags, message', [
    (['--heatmaps', '{file}'], '--heatmaps {file}: cannot write files there'),
    (['--plots', '{file}/x'], '--plots {file}/x: cannot write files there'),
    (['--plots', '{tmp}', '--images', '{file}'], '--plots draws an evaluation'),
    (['--heatmaps', '{tmp}/h', '--dense_features', '{tmp}/d.h5'],
     '--heatmaps does not go with --dense_features'),
])
def test_bad_picture_flags(trained, tmp_path, flags, message):
  existing = tmp_path / 'a_file'
  existing.write_text('x')
  fill = dict(file=existing, tmp=tmp_path)
  result = run_script('eval_graph.py', '--checkpoint_path', trained[0],
                      *[flag.format(**fill) for flag in flags], check=False)
  assert result.returncode == 2
  assert result.stderr.startswith('error: ' + message.format(**fill))
  assert result.stderr.count('\n') == 1


def test_without_matplotlib(trained, tmp_path, monkeypatch):
  """An explicit picture flag is an error naming the install command; pictures that
  were only a default are skipped with a note."""
  shim = tmp_path / 'shim' / 'matplotlib'
  shim.mkdir(parents=True)
  (shim / '__init__.py').write_text('raise ImportError("hidden by the test")\n')
  monkeypatch.setenv('PYTHONPATH', str(shim.parent))
  result = run_script('eval_graph.py', '--checkpoint_path', trained[0], '--heatmaps',
                      tmp_path / 'maps', check=False)
  assert result.returncode == 2
  assert result.stderr == ('error: --heatmaps: matplotlib is not installed (%s)\n'
                           % plots.INSTALL_HINT)
  result = run_script('eval_graph.py', '--checkpoint_path', trained[0], '--report',
                      tmp_path / 'report.json')
  assert ('note: no plots beside --report: matplotlib is not installed (%s)'
          % plots.INSTALL_HINT) in result.stderr
  assert sorted(os.listdir(tmp_path)) == ['report.json', 'shim']
