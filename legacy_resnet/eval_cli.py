"""Flags and entry point of ``eval_graph.py``: evaluation, prediction on image files,
and dense (FCN-mode) features, all from a restored checkpoint."""

import os

import h5py
import numpy as np

from legacy_resnet import atomic_files
from legacy_resnet import checkpoints
from legacy_resnet import cli
from legacy_resnet import datasets
from legacy_resnet import evaluation
from legacy_resnet import export
from legacy_resnet import images
from legacy_resnet import metrics
from legacy_resnet import runtimes
from legacy_resnet.errors import UsageError


def parser():
  p = cli.ArgumentParser(
      prog='eval_graph.py',
      description='Evaluate, predict with, or extract dense features from a checkpoint '
      'written by train_graph.py.')
  p.add_argument('--checkpoint_path', required=True,
                 help='checkpoint prefix, or a train dir meaning its latest checkpoint')
  source = p.add_mutually_exclusive_group()
  source.add_argument('--dataset_dir', help='folder whose test_signs.h5 is evaluated '
                      '(default: the data the run was trained on)')
  source.add_argument('--dataset_file', help='any SIGNS-format file (test or train keys)')
  source.add_argument('--images', nargs='+', metavar='IMAGE',
                      help='image files to classify (or to extract dense features from)')
  p.add_argument('--top_k', type=cli.positive_int, default=3,
                 help='classes shown per image (default: %(default)s)')
  p.add_argument('--report', metavar='FILE.json', help='write the evaluation as JSON')
  p.add_argument('--dense_features', metavar='OUT.h5',
                 help='write the last block\'s FCN-mode feature maps to HDF5')
  p.add_argument('--output_stride', type=int, default=16, choices=(8, 16, 32),
                 help='feature stride for --dense_features (default: %(default)s)')
  p.add_argument('--image_size', type=cli.positive_int, nargs=2, metavar=('H', 'W'),
                 help='resize --images to this size for --dense_features (default: '
                 'their own size, which must then be the same for all)')
  p.add_argument('--export_dir', metavar='DIR',
                 help='write a SavedModel (serving signature: images in [0, 1] -> '
                 'probabilities, classes), a frozen inference graph and, when tf2onnx is '
                 'installed, model.onnx to this new folder')
  p.add_argument('--runtime', choices=runtimes.RUNTIMES, default=runtimes.DEFAULT_RUNTIME,
                 help='what runs the network for evaluation and --images: TensorFlow, or '
                 'the checkpoint\'s ONNX model (converted once, kept as <checkpoint>.onnx) '
                 'in ONNX Runtime or OpenVINO, installed with pip install -r '
                 'requirements-serve.txt (default: %(default)s)')
  p.add_argument('--verbose', action='store_true', help='show TensorFlow warnings')
  return p


def _check_output(path, flag):
  folder = os.path.dirname(os.path.abspath(path))
  if not os.path.isdir(folder):
    raise UsageError('%s %s: folder %s does not exist' % (flag, path, folder))


def _evaluate(settings, classifier):
  split = datasets.evaluation_split(settings.dataset_dir, settings.dataset_file,
                                    classifier.metadata['dataset'])
  report = evaluation.evaluate(classifier, split)
  print('%s (global step %s) on %s' % (classifier.prefix, classifier.global_step, split.source))
  print(metrics.format_report(report))
  if settings.report:
    atomic_files.write_json(settings.report, report)


def _predict(settings, classifier):
  for path, ranked in evaluation.top_predictions(classifier, settings.images, settings.top_k):
    print('%s: %s' % (path, ', '.join('%s %.3f' % pair for pair in ranked)))


def _dense_inputs(settings, metadata):
  """(images [N, H, W, 3], sources, labels or None) for --dense_features."""
  if settings.images:
    size = tuple(settings.image_size) if settings.image_size else None
    loaded = [images.read_image(path, size) for path in settings.images]
    shapes = {image.shape for image in loaded}
    if len(shapes) > 1:
      raise UsageError('--images have different sizes %s; pass --image_size H W'
                       % sorted(shape[:2] for shape in shapes))
    return loaded, list(settings.images), None
  split = datasets.evaluation_split(settings.dataset_dir, settings.dataset_file,
                                    metadata['dataset'])
  sources = ['%s[%d]' % (split.source, index) for index in range(len(split.labels))]
  return split.images, sources, split.labels


def _write_dense_features(settings):
  prefix = checkpoints.resolve(settings.checkpoint_path)
  metadata = checkpoints.read_metadata(prefix)
  inputs, sources, labels = _dense_inputs(settings, metadata)
  features = evaluation.dense_features(prefix, settings.output_stride, np.stack(inputs))
  with atomic_files.replacing(settings.dense_features, suffix='.h5') as temporary:
    with h5py.File(temporary, 'w') as out:
      out.create_dataset('features', data=features, compression='gzip')
      out.create_dataset('sources', data=np.array(sources, dtype=object),
                         dtype=h5py.string_dtype())
      if labels is not None:
        out.create_dataset('labels', data=labels)
      out.attrs.update(output_stride=settings.output_stride, checkpoint=prefix,
                       model_name=metadata['model_name'])
  print('wrote %s features %s (output stride %d) to %s'
        % (len(features), list(features.shape[1:]), settings.output_stride,
           settings.dense_features))


def main(argv):
  settings = parser().parse_args(argv)
  for flag in ('report', 'dense_features'):
    if getattr(settings, flag):
      _check_output(getattr(settings, flag), '--' + flag)
  if settings.runtime != 'tensorflow' and (settings.export_dir or settings.dense_features):
    raise UsageError('--runtime %s runs evaluation and --images only; --export_dir and '
                     '--dense_features use TensorFlow' % settings.runtime)
  if settings.export_dir:
    written = export.export(settings.checkpoint_path, settings.export_dir)
    print('exported %s to %s (SavedModel, %s)'
          % (settings.checkpoint_path, settings.export_dir, ', '.join(written)))
    return
  if settings.dense_features:
    _write_dense_features(settings)
    return
  classifier = runtimes.restored_classifier(settings.checkpoint_path, settings.runtime)
  try:
    if settings.images:
      _predict(settings, classifier)
    else:
      _evaluate(settings, classifier)
  finally:
    classifier.close()
