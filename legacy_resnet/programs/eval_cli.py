"""Flags and entry point of ``eval_graph.py``: evaluation, prediction on image files,
and dense (FCN-mode) features, all from a restored checkpoint."""

import os
import sys
import tempfile

import h5py
import numpy as np

from legacy_resnet.checkpointing import checkpoints
from legacy_resnet.data import datasets
from legacy_resnet.data import images
from legacy_resnet.evaluate import calibration
from legacy_resnet.evaluate import evaluation
from legacy_resnet.evaluate import heatmaps
from legacy_resnet.evaluate import plots
from legacy_resnet.evaluate import watch
from legacy_resnet.graph import metrics
from legacy_resnet.core import atomic_files
from legacy_resnet.core import cli
from legacy_resnet.core import limits
from legacy_resnet.core import sessions
from legacy_resnet.graph import precision
from legacy_resnet.core.errors import UsageError
from legacy_resnet.serve import export
from legacy_resnet.serve import runtimes

HEATMAP_FILE = 'heatmap_%04d.png'
# Longer than a default run's save interval (600 s), so a slow epoch is waited for.
DEFAULT_WATCH_TIMEOUT = 3600.0


def parser():
  p = cli.ArgumentParser(prog='eval_graph.py', description='Evaluate, predict with, or extract dense '
                         'features from a checkpoint written by train_graph.py.')
  p.add_argument('--checkpoint_path', required=True,
                 help='checkpoint prefix, or a train dir meaning its latest checkpoint')
  source = p.add_mutually_exclusive_group()
  source.add_argument('--dataset_dir', help='folder whose test_signs.h5 is evaluated (default: the '
                      'data the run was trained on)')
  source.add_argument('--dataset_file', help='any SIGNS-format file (test or train keys)')
  source.add_argument('--images', nargs='+', metavar='IMAGE',
                      help='image files to classify (or to extract dense features from)')
  p.add_argument('--split', choices=('test', 'validation'), default='test',
                 help='without --dataset_dir, --dataset_file or --images: evaluate (or draw --heatmaps, '
                 '--dense_features of) the run\'s test data, or the validation split it held out of its '
                 'training file (default: %(default)s)')
  p.add_argument('--watch', action='store_true',
                 help='follow the training run of --checkpoint_path (a train dir): evaluate each '
                 'checkpoint once as it is saved, with TensorBoard summaries in the train dir\'s %s/ '
                 'folder and the latest report in --report; stop when the run has ended' % watch.EVAL_SUBDIR)
  p.add_argument('--watch_timeout', type=cli.non_negative_float, metavar='SECS',
                 help='--watch: also stop when no new checkpoint came for this many seconds (0: never; '
                 'default: %g)' % DEFAULT_WATCH_TIMEOUT)
  p.add_argument('--top_k', type=cli.positive_int, default=3,
                 help='classes shown per image (default: %(default)s)')
  p.add_argument('--report', metavar='FILE.json',
                 help='write the evaluation as JSON, with the expected calibration error (%d equal-width '
                 'bins) of the calibrated confidences' % calibration.ECE_BINS)
  p.add_argument('--dense_features', metavar='OUT.h5',
                 help='write the last block\'s FCN-mode feature maps to HDF5')
  p.add_argument('--output_stride', type=int, default=16, choices=(8, 16, 32),
                 help='feature stride for --dense_features and --heatmaps (default: %(default)s)')
  p.add_argument('--multi_grid', type=cli.positive_int, nargs='+', metavar='RATE',
                 help='atrous rate factors of the last block\'s units for --dense_features (DeepLab v3 '
                 'multi-grid, e.g. 1 2 4; one per unit)')
  p.add_argument('--image_size', type=cli.positive_int, nargs=2, metavar=('H', 'W'),
                 help='resize --images to this size for --dense_features and --heatmaps (default: their '
                 'own size, which for --dense_features must be the same for all)')
  p.add_argument('--plots', metavar='DIR',
                 help='write confusion_matrix.png and mistakes.png of the evaluation to this folder '
                 '(default: beside --report, when given)')
  p.add_argument('--heatmaps', metavar='DIR',
                 help='run the classifier fully convolutionally on --images (any sizes) or the held-out '
                 'set and write, to this folder, one PNG per image with the predicted class\'s score map '
                 'laid over it and all maps in %s (stride: --output_stride)' % heatmaps.HDF5_FILE)
  p.add_argument('--export_dir', metavar='DIR',
                 help='write a SavedModel (serving signature: images in [0, 1] -> probabilities, '
                 'classes), a frozen inference graph and, when tf2onnx is installed, model.onnx to this '
                 'new folder')
  p.add_argument('--runtime', choices=runtimes.RUNTIMES, default=runtimes.DEFAULT_RUNTIME,
                 help='what runs the network for evaluation and --images: TensorFlow, or the '
                 'checkpoint\'s ONNX model (converted once, kept as <checkpoint>.onnx) in ONNX Runtime or '
                 'OpenVINO, installed with pip install -r requirements-serve.txt (default: %(default)s)')
  p.add_argument('--precision', default=precision.DEFAULT, choices=precision.PRECISIONS,
                 help='number format of the network\'s computation for evaluation and --images (any '
                 'precision reads any run\'s checkpoints). bfloat16: CPUs with AVX512-BF16 or AMX only '
                 '(refused elsewhere, never emulated); float16: GPUs only (default: %(default)s)')
  p.add_argument('--verbose', action='store_true', help='show TensorFlow warnings')
  return p


def _output_folder(path, flag):
  """Creates folder ``path`` of ``flag`` if missing; checks, before any work, that it is writable."""
  try:
    os.makedirs(path, exist_ok=True)
    with tempfile.TemporaryFile(dir=path):
      pass
  except OSError as error:
    raise UsageError('%s %s: cannot write files there (%s)' % (flag, path, error.strerror)) from None
  return path


def _plots_folder(settings):
  """Where --plots go: --plots, else --report's folder when matplotlib is there."""
  evaluating = not (settings.images or settings.dense_features or settings.heatmaps or settings.export_dir)
  if settings.plots:
    if not evaluating:
      raise UsageError('--plots draws an evaluation; it does not go with --images, '
                       '--dense_features, --heatmaps or --export_dir')
    if not plots.available():
      raise UsageError('--plots: matplotlib is not installed (%s)' % plots.INSTALL_HINT)
    return _output_folder(settings.plots, '--plots')
  if settings.report and evaluating:
    if plots.available():
      return os.path.dirname(os.path.abspath(settings.report))
    sys.stderr.write('note: no plots beside --report: matplotlib is not installed (%s)\n'
                     % plots.INSTALL_HINT)
  return None


def _labelled_split(settings, metadata):
  """(name, Split) to evaluate the run of ``metadata`` on: --dataset_file,
  --dataset_dir's test file, or the run's own test or validation data (--split)."""
  if settings.split == 'validation':
    return 'validation', datasets.validation_split(
        metadata['dataset'], metadata.get('validation_split'), metadata.get('seed'))
  return 'test', datasets.evaluation_split(settings.dataset_dir, settings.dataset_file, metadata['dataset'])


def _calibration(settings, classifier):
  """(temperature, unsure threshold or None) of the restored run; says on stderr if it has none."""
  temperature, threshold, recorded = calibration.from_metadata(classifier.metadata, settings.checkpoint_path)
  if recorded is None:
    sys.stderr.write(calibration.missing_note(settings.checkpoint_path) + '\n')
  return temperature, threshold


def _evaluate(settings, classifier, split, plots_folder):
  split = split or _labelled_split(settings, classifier.metadata)[1]
  probabilities = evaluation.held_out_probabilities(classifier, split)
  report = evaluation.evaluate(classifier, split, probabilities)
  temperature, threshold = _calibration(settings, classifier)
  calibrated = calibration.scaled(probabilities, temperature)
  confidence, right = calibrated.max(axis=1), calibrated.argmax(axis=1) == split.labels
  report['expected_calibration_error'] = calibration.expected_calibration_error(calibrated, split.labels)
  report['calibration'] = {
      'temperature': temperature, 'ece_bins': calibration.ECE_BINS,
      'expected_calibration_error_uncalibrated':
          calibration.expected_calibration_error(probabilities, split.labels),
      'mean_confidence': float(confidence.mean())}
  if threshold is not None:
    unsure = confidence < threshold
    report['calibration'].update(
        unsure_below=threshold, unsure_share=float(unsure.mean()),
        unsure_share_of_wrong=float(unsure[~right].mean()) if (~right).any() else None,
        unsure_share_of_right=float(unsure[right].mean()) if right.any() else None)
  print('%s (global step %s) on %s' % (classifier.prefix, classifier.global_step, split.source))
  print(metrics.format_report(report))
  print('expected calibration error %.4f (%d equal-width bins, temperature %.3f)'
        % (report['expected_calibration_error'], calibration.ECE_BINS, report['calibration']['temperature']))
  if settings.report:
    atomic_files.write_json(settings.report, report)
  if plots_folder:
    confusion_path, mistakes_path = (os.path.join(plots_folder, name)
                                     for name in ('confusion_matrix.png', 'mistakes.png'))
    plots.confusion_matrix(confusion_path, report['confusion_matrix'], split.class_names,
                           'accuracy %.4f on %d images' % (report['accuracy'], report['num_examples']))
    tiles = plots.mistakes(mistakes_path, split.images, split.labels, probabilities, split.class_names)
    print('wrote %s and %s (%d mistakes shown)' % (confusion_path, mistakes_path, tiles))


def _predict(settings, classifier):
  temperature, threshold = _calibration(settings, classifier)
  if threshold is not None:
    print('confidences calibrated (temperature %.3f); "%s" below %.3f'
          % (temperature, calibration.UNSURE_MARK, threshold))
  for path, ranked in evaluation.top_predictions(classifier, settings.images, settings.top_k, temperature):
    unsure = threshold is not None and ranked[0][1] < threshold
    mark = '  ' + calibration.UNSURE_MARK if unsure else ''
    print('%s: %s%s' % (path, ', '.join('%s %.3f' % pair for pair in ranked), mark))


def _dense_inputs(settings, metadata, same_size=True):
  """(images [H, W, 3] each, sources, labels or None) for --dense_features (all of one
  size) or --heatmaps (``same_size`` False)."""
  if settings.images:
    size = tuple(settings.image_size) if settings.image_size else None
    loaded = [images.read_image(path, size) for path in settings.images]
    shapes = {image.shape for image in loaded}
    if same_size and len(shapes) > 1:
      raise UsageError('--images have different sizes %s; pass --image_size H W'
                       % sorted(shape[:2] for shape in shapes))
    return loaded, list(settings.images), None
  split = _labelled_split(settings, metadata)[1]
  sources = ['%s[%d]' % (split.source, index) for index in range(len(split.labels))]
  return split.images, sources, split.labels


def _write_dense_features(settings, checkpoint):
  inputs, sources, labels = _dense_inputs(settings, checkpoint.metadata)
  features, prefix = evaluation.dense_features(checkpoint, settings.output_stride,
                                               np.stack(inputs), settings.multi_grid)
  with atomic_files.replacing(settings.dense_features, suffix='.h5') as temporary:
    with h5py.File(temporary, 'w') as out:
      out.create_dataset('features', data=features, compression='gzip')
      out.create_dataset('sources', data=np.array(sources, dtype=object), dtype=h5py.string_dtype())
      if labels is not None:
        out.create_dataset('labels', data=labels)
      out.attrs.update(output_stride=settings.output_stride, checkpoint=prefix,
                       model_name=checkpoint.metadata['model_name'],
                       multi_grid=list(settings.multi_grid or []))
  print('wrote %s features %s (output stride %d) to %s'
        % (len(features), list(features.shape[1:]), settings.output_stride, settings.dense_features))


def _write_heatmaps(settings, checkpoint):
  inputs, sources, labels = _dense_inputs(settings, checkpoint.metadata, same_size=False)
  stride = settings.output_stride
  maps, class_names, prefix = heatmaps.class_score_maps(checkpoint, stride, inputs)
  predictions = heatmaps.predictions_and_peaks(maps, stride)
  with plots.HeatmapPictures() as pictures:
    for index, (image, score_map) in enumerate(zip(inputs, maps)):
      predicted, probability, peak = (values[index] for values in predictions)
      title = '%s\npredicted %s %.2f' % (os.path.basename(sources[index]),
                                         class_names[predicted], probability)
      if labels is not None:
        title += ', true %s' % class_names[labels[index]]
      pictures.write(os.path.join(settings.heatmaps, HEATMAP_FILE % index), image,
                     score_map[..., predicted], stride, title, peak)
  path = os.path.join(settings.heatmaps, heatmaps.HDF5_FILE)
  heatmaps.write_hdf5(path, maps, sources, predictions, stride,
                      {'class_names': class_names, 'checkpoint': prefix,
                       'model_name': checkpoint.metadata['model_name']}, labels)
  print('wrote %d heatmaps (%s) and %s (output stride %d)'
        % (len(maps), os.path.join(settings.heatmaps, HEATMAP_FILE.replace('%04d', '*')), path, stride))


def _check_flags(settings):
  """Refuses, before any work, flags that do not go together or that cannot run here."""
  if settings.split == 'validation' and (settings.dataset_dir or settings.dataset_file or settings.images):
    raise UsageError('--split validation is the run\'s own data; it does not go with '
                     '--dataset_dir, --dataset_file or --images')
  if settings.watch_timeout is not None and not settings.watch:
    raise UsageError('--watch_timeout goes with --watch')
  if settings.watch:
    for flag in ('images', 'dense_features', 'heatmaps', 'export_dir', 'plots'):
      if getattr(settings, flag):
        raise UsageError('--watch evaluates; it does not go with --%s' % flag)
    if settings.runtime != 'tensorflow':
      raise UsageError('--watch runs TensorFlow; it does not go with --runtime %s' % settings.runtime)
    path = settings.checkpoint_path
    if os.path.exists(path + '.index') or (os.path.exists(path) and not os.path.isdir(path)):
      raise UsageError('--watch follows a train dir; --checkpoint_path %s is not a folder' % path)
  if settings.precision != precision.FLOAT32:  # Refused with what runs float32 regardless.
    for flag in ('watch', 'export_dir', 'dense_features', 'heatmaps'):
      if getattr(settings, flag):
        raise UsageError('--precision %s applies to evaluation and --images; it does not '
                         'go with --%s' % (settings.precision, flag))
    if settings.runtime != 'tensorflow':
      raise UsageError('--precision %s runs TensorFlow; it does not go with --runtime %s'
                       % (settings.precision, settings.runtime))
    precision.check(settings.precision)
  for flag in ('report', 'dense_features'):
    path = getattr(settings, flag)
    folder = path and os.path.dirname(os.path.abspath(path))
    if path and not os.path.isdir(folder):
      raise UsageError('--%s %s: folder %s does not exist' % (flag, path, folder))
  if settings.runtime != 'tensorflow' and (settings.export_dir or settings.dense_features
                                           or settings.heatmaps):
    raise UsageError('--runtime %s runs evaluation and --images only; --export_dir, '
                     '--dense_features and --heatmaps use TensorFlow' % settings.runtime)
  if settings.heatmaps:
    if settings.dense_features or settings.export_dir:
      raise UsageError('--heatmaps does not go with --dense_features or --export_dir')
    if not plots.available():
      raise UsageError('--heatmaps: matplotlib is not installed (%s)' % plots.INSTALL_HINT)
    _output_folder(settings.heatmaps, '--heatmaps')


def main(argv):
  settings = parser().parse_args(argv)
  _check_flags(settings)
  if settings.watch:
    timeout = settings.watch_timeout
    watch.Follower(settings.checkpoint_path, lambda metadata: _labelled_split(settings, metadata),
                   settings.report).follow(DEFAULT_WATCH_TIMEOUT if timeout is None else timeout)
    return
  plots_folder = _plots_folder(settings)
  if settings.export_dir:
    written = export.export(settings.checkpoint_path, settings.export_dir)
    print('exported %s to %s (SavedModel, %s)'
          % (settings.checkpoint_path, settings.export_dir, ', '.join(written)))
    return
  if settings.dense_features:
    _write_dense_features(settings, checkpoints.resolved(settings.checkpoint_path))
    return
  # Files named on the command line are checked before the checkpoint is restored.
  split = None
  if settings.dataset_dir or settings.dataset_file:
    split = datasets.evaluation_split(settings.dataset_dir, settings.dataset_file, None)
  for path in settings.images or ():
    limits.read_image_file(path)
  if settings.heatmaps:
    _write_heatmaps(settings, checkpoints.resolved(settings.checkpoint_path))
    return
  classifier = runtimes.restored_classifier(settings.checkpoint_path, settings.runtime, precision.configure(
      sessions.session_config(), settings.precision))
  try:
    if settings.images:
      _predict(settings, classifier)
    else:
      _evaluate(settings, classifier, split, plots_folder)
  finally:
    classifier.close()
