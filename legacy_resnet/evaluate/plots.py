"""PNG pictures drawn with matplotlib's Agg backend, each written atomically: confusion
matrices, contact sheets of mistakes, class-score heatmaps and training curves.
matplotlib is optional (``available()``, ``INSTALL_HINT``)."""

import contextlib
import importlib
import math

import numpy as np

from legacy_resnet.core import atomic_files

INSTALL_HINT = 'pip install matplotlib==3.11.2'
MAX_MISTAKES = 48  # tiles on a contact sheet; the most confident mistakes come first
_SHEET_COLUMNS = 8
_DPI = 100
MISTAKE_FRAME = '#d62728'  # the frame drawn around every contact-sheet tile


def available():
  """Whether matplotlib can be imported."""
  try:
    importlib.import_module('matplotlib')
  except ImportError:
    return False
  return True


def _pyplot():
  """matplotlib.pyplot on the Agg backend (raises ImportError without matplotlib)."""
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use('Agg')
  import matplotlib.pyplot as pyplot  # pylint: disable=import-outside-toplevel
  return pyplot


def _save(figure, path):
  """Writes ``figure`` to ``path`` as PNG (atomically) and closes it."""
  try:
    with atomic_files.replacing(path, suffix='.png') as temporary:
      figure.savefig(temporary, format='png', dpi=_DPI)
  finally:
    _pyplot().close(figure)


def _matrix_panel(axes, values, class_names, title, cell_format):
  """One confusion-matrix panel: ``values`` [C, C] as shades with each cell's number."""
  axes.imshow(values, cmap='Blues', vmin=0.0, vmax=max(float(values.max()), 1e-9))
  ticks = np.arange(len(class_names))
  axes.set(xticks=ticks, xticklabels=class_names, yticks=ticks, yticklabels=class_names,
           xlabel='predicted class', ylabel='true class', title=title)
  middle = values.max() / 2.0
  font_size = 9 if len(class_names) <= 10 else 6
  for (row, column), value in np.ndenumerate(values):
    axes.text(column, row, cell_format % value, ha='center', va='center', fontsize=font_size,
              color='white' if value > middle else 'black')


def confusion_matrix(path, matrix, class_names, title=''):
  """Writes two panels to PNG file ``path``: the int [C, C] ``matrix`` of counts (row =
  true class, column = predicted) and each row divided by its total."""
  matrix = np.asarray(matrix)
  normalized = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
  side = 2.0 + 0.45 * len(class_names)
  figure, (counts_axes, rows_axes) = _pyplot().subplots(1, 2, figsize=(2 * side + 1, side + 1.2))
  _matrix_panel(counts_axes, matrix, class_names, 'counts', '%d')
  _matrix_panel(rows_axes, normalized, class_names, 'each row divided by its total', '%.2f')
  figure.suptitle(title)
  figure.tight_layout()
  _save(figure, path)


def mistake_order(labels, probabilities):
  """int [M]: the indices of the misclassified examples, most confident first."""
  predictions = np.argmax(probabilities, axis=1)
  wrong = np.flatnonzero(predictions != labels)
  return wrong[np.argsort(-probabilities[wrong, predictions[wrong]], kind='stable')]


def mistakes(path, images, labels, probabilities, class_names, max_tiles=MAX_MISTAKES):
  """Writes to PNG file ``path`` a contact sheet of at most ``max_tiles`` misclassified images
  (float [N, H, W, 3] in [0, 1], int labels [N], probabilities [N, C]), the most confident first, each
  titled with its true and predicted class; returns the number of tiles drawn (none: the sheet says so)."""
  order = mistake_order(labels, probabilities)
  shown = order[:max_tiles]
  pyplot = _pyplot()
  if not len(shown):
    figure = pyplot.figure(figsize=(4, 1))
    figure.text(0.5, 0.5, 'no mistakes among %d images' % len(labels), ha='center', va='center')
    _save(figure, path)
    return 0
  columns = min(_SHEET_COLUMNS, len(shown))
  rows = math.ceil(len(shown) / columns)
  figure, grid = pyplot.subplots(rows, columns, figsize=(1.5 * columns, 1.75 * rows + 0.5), squeeze=False)
  for axes in grid.flat[len(shown):]:
    axes.set_visible(False)
  for axes, index in zip(grid.flat, shown):
    predicted = int(np.argmax(probabilities[index]))
    axes.imshow(np.clip(images[index], 0.0, 1.0), interpolation='nearest')
    axes.set(xticks=[], yticks=[])
    axes.spines[:].set(color=MISTAKE_FRAME, linewidth=2)
    axes.set_title('true %s\npredicted %s %.2f' % (class_names[labels[index]], class_names[predicted],
                                                  probabilities[index, predicted]), fontsize=8)
  figure.suptitle('%d of %d images misclassified%s' % (len(order), len(labels), '' if len(shown) == len(order)
                                                      else ' (the %d most confident shown)' % len(shown)),
                  fontsize=10)
  figure.tight_layout()
  _save(figure, path)
  return len(shown)


class HeatmapPictures(contextlib.AbstractContextManager):
  """Writes pictures of images with a class-score map laid over each in colour (a context
  manager, or call ``close()``). One figure is redrawn while their size stays (building
  costs more than drawing); its layout is fixed, so redrawn pixels equal fresh ones."""

  _TITLE_INCHES = 0.55  # two lines of 9-point text and their padding
  _MARGIN_INCHES = 0.2

  def __init__(self):
    self._size = None  # (height, width, map rows, map columns, output_stride) of the figure
    self._figure = self._photo = self._overlay = self._cross = None

  def __exit__(self, *unused_exc_info):
    self.close()

  def close(self):
    if self._figure is not None:
      _pyplot().close(self._figure)
      self._figure, self._size = None, None

  def write(self, path, image, score_map, output_stride, title, peak=None):
    """Writes to PNG file ``path`` ``image`` (float [H, W, 3] in [0, 1]) under ``title`` (at
    most two lines), ``score_map`` (float [h, w]) coloured from its lowest (blue) to highest
    (red) score over it, location (i, j) centred on pixel (i * output_stride, j *
    output_stride), and ``peak`` ((x, y) in pixels, or None) marked with a white cross."""
    # The last row and column repeated: the centres stop short of the edges (64 pixels, stride 16: 0 to 48).
    score_map = np.pad(score_map, ((0, 1), (0, 1)), mode='edge')
    size = image.shape[:2] + score_map.shape + (output_stride,)
    if size != self._size:
      self.close()
      self._draw_figure(*size)
      self._size = size
    self._photo.set_data(np.clip(image, 0.0, 1.0))
    self._overlay.set_data(score_map)
    self._overlay.autoscale()
    self._cross.set_visible(peak is not None)
    if peak is not None:
      self._cross.set_data([peak[0]], [peak[1]])
    self._figure.axes[0].title.set_text(title)
    with atomic_files.replacing(path, suffix='.png') as temporary:
      self._figure.savefig(temporary, format='png', dpi=_DPI)

  def _draw_figure(self, height, width, rows, columns, output_stride):
    scale = 3.2 / max(height, width)
    figure_width = width * scale + 2 * self._MARGIN_INCHES
    figure_height = height * scale + self._TITLE_INCHES + self._MARGIN_INCHES
    self._figure = _pyplot().figure(figsize=(figure_width, figure_height))
    axes = self._figure.add_axes((self._MARGIN_INCHES / figure_width, self._MARGIN_INCHES / figure_height,
                                  width * scale / figure_width, height * scale / figure_height))
    half = output_stride / 2.0
    self._photo = axes.imshow(np.zeros((height, width, 3)), extent=(0, width, height, 0))
    self._overlay = axes.imshow(np.zeros((rows, columns)), cmap='jet', alpha=0.45, interpolation='bilinear',
                                extent=(-half, columns * output_stride - half,
                                        rows * output_stride - half, -half))
    self._overlay.set_clip_path(axes.patch)
    self._cross, = axes.plot([0], [0], marker='x', color='white', markersize=10, mew=2.5, clip_on=False)
    axes.set(xlim=(0, width), ylim=(height, 0))
    axes.set_axis_off()
    axes.set_title('', fontsize=9, y=1.0)  # a fixed place: no search for room at every draw


def training_curves(path, epochs, series, title=''):
  """Writes to PNG file ``path`` two panels against the float [E] ``epochs``: the
  ``series`` ({label: float [E], NaN where it has no value}) whose label holds 'loss'
  (left) and the accuracies (right), under ``title``."""
  figure, (loss_axes, accuracy_axes) = _pyplot().subplots(1, 2, figsize=(10, 4))
  for label, values in series.items():
    axes = loss_axes if 'loss' in label else accuracy_axes
    values = np.asarray(values, dtype=float)
    present = ~np.isnan(values)
    axes.plot(np.asarray(epochs)[present], values[present], marker='o', markersize=3, label=label)
  loss_axes.set_title('loss')
  accuracy_axes.set(title='accuracy', ylim=(-0.02, 1.02))
  for axes in (loss_axes, accuracy_axes):
    axes.set_xlabel('epoch')
    axes.grid(alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
      axes.legend(fontsize=8)
  figure.suptitle(title)
  figure.tight_layout()
  _save(figure, path)
