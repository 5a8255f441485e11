"""In-domain and shifted accuracy, calibration and "not sure" marks of trained runs,
side by side: the domain-shift benchmark of docs/photos.md.

  python -m bench.photo_recipe --run today=runs/today --run photo=runs/photo

For each run (a train dir of the embedded synthetic set), through ``eval_graph.py`` as
a user runs it:

- in-domain: ``--report`` on the run's own held-out test set (default style);
- shifted: ``--report`` on the shifted synthetic test set
  (``python -m legacy_resnet.data.synthetic_signs --style shifted``, written once into
  ``--work_dir``);
- ``--images`` on the shifted images (the first ``--num_images``; default all) written
  as PNG files: how often the right and the wrong predictions are marked "not sure".

Prints a markdown table; ``--output`` also writes it with the commands.
"""

import argparse
import json
import os
import re
import subprocess
import sys

import numpy as np
import tensorflow as tf

from legacy_resnet.evaluate import calibration
from legacy_resnet.data import signs_data
from legacy_resnet.data import synthetic_signs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_LINE = re.compile(r'^(?P<path>.+\.png): (?P<name>\S+) (?P<confidence>[0-9.]+)(?P<rest>.*)$')


def _run(command):
  shown = command[1:] if len(command) < 12 else command[1:10] + ['... (%d more)' % (len(command) - 10)]
  print('$ ' + ' '.join(shown), flush=True)
  result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
  if result.returncode:
    sys.exit('failed: %s\n%s' % (' '.join(command), result.stderr))
  return result.stdout


def _report(checkpoint, path, extra):
  _run([sys.executable, 'eval_graph.py', '--checkpoint_path', checkpoint, '--report', path,
        '--plots', os.path.dirname(path)] + extra)
  with open(path, encoding='utf-8') as stream:
    return json.load(stream)


def _marks(checkpoint, paths, labels, class_names):
  """(share of right predictions marked unsure, share of wrong ones, counts)."""
  output = _run([sys.executable, 'eval_graph.py', '--checkpoint_path', checkpoint,
                 '--top_k', '1', '--images'] + paths)
  right, unsure = [], []
  by_path = {}
  for line in output.splitlines():
    match = _LINE.match(line)
    if match:
      by_path[match.group('path')] = match
  for path, label in zip(paths, labels):
    match = by_path[path]
    right.append(match.group('name') == class_names[label])
    unsure.append(calibration.UNSURE_MARK in match.group('rest'))
  right, unsure = np.array(right), np.array(unsure)
  return (float(unsure[right].mean()) if right.any() else float('nan'),
          float(unsure[~right].mean()) if (~right).any() else float('nan'),
          int(right.sum()), int((~right).sum()))


def main(argv):
  parser = argparse.ArgumentParser(prog='python -m bench.photo_recipe')
  parser.add_argument('--run', action='append', required=True, metavar='LABEL=TRAIN_DIR')
  parser.add_argument('--work_dir', default=os.path.join('runs', 'photo_recipe'))
  parser.add_argument('--num_shifted', type=int, default=synthetic_signs.NUM_TEST)
  parser.add_argument('--num_images', type=int, help='(default: --num_shifted)')
  parser.add_argument('--output', help='also write the table to this markdown file')
  args = parser.parse_args(argv)
  args.num_images = args.num_images or args.num_shifted
  shifted_dir = os.path.join(args.work_dir, 'shifted')
  if not os.path.exists(os.path.join(shifted_dir, signs_data.TEST_FILE)):
    synthetic_signs.write_signs_files(shifted_dir, num_train=6, num_test=args.num_shifted,
                                      style='shifted')
  shifted_file = os.path.join(shifted_dir, signs_data.TEST_FILE)
  images, labels = synthetic_signs.draw_images(args.num_images, 0, synthetic_signs.TEST_STREAM,
                                               style='shifted')
  png_dir = os.path.join(args.work_dir, 'shifted_png')
  os.makedirs(png_dir, exist_ok=True)
  paths = []
  for index, image in enumerate(images):
    path = os.path.join(png_dir, 'shifted%04d.png' % index)
    tf.io.write_file(path, tf.io.encode_png(image))
    paths.append(path)
  rows = []
  for entry in args.run:
    label, train_dir = entry.split('=', 1)
    folder = os.path.join(args.work_dir, label)
    os.makedirs(folder, exist_ok=True)
    own = _report(train_dir, os.path.join(folder, 'in_domain.json'), [])
    shifted = _report(train_dir, os.path.join(folder, 'shifted.json'),
                      ['--dataset_file', shifted_file])
    marks = _marks(train_dir, paths, labels, synthetic_signs.class_names())
    rows.append((label, train_dir, own, shifted, marks))
  lines = [
      '| recipe | train dir | in-domain accuracy | shifted accuracy | in-domain ECE '
      '(uncalibrated) | shifted ECE (uncalibrated) | temperature | --images on %d shifted: '
      '"not sure" among right / among wrong |' % args.num_images,
      '| --- | --- | --- | --- | --- | --- | --- | --- |']
  for label, train_dir, own, shifted, (of_right, of_wrong, n_right, n_wrong) in rows:
    lines.append('| %s | %s | %.4f | %.4f | %.4f (%.4f) | %.4f (%.4f) | %.3f | %.3f of %d / %.3f '
                 'of %d |' % (
                     label, train_dir, own['accuracy'], shifted['accuracy'],
                     own['expected_calibration_error'],
                     own['calibration']['expected_calibration_error_uncalibrated'],
                     shifted['expected_calibration_error'],
                     shifted['calibration']['expected_calibration_error_uncalibrated'],
                     own['calibration']['temperature'], of_right, n_right, of_wrong, n_wrong))
  table = '\n'.join(lines)
  print(table)
  if args.output:
    with open(args.output, 'w', encoding='utf-8') as stream:
      stream.write(table + '\n')


if __name__ == '__main__':
  main(sys.argv[1:])
