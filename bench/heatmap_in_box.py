"""How often the peak of the predicted class's FCN-mode map lies in the hand's box, on
a synthetic held-out set: the run's own (default style), or the shifted set, where the
hand's size and place vary far more.

  python -m bench.heatmap_in_box runs/default/heatmaps/heatmaps.h5

reads the file written by ``eval_graph.py --checkpoint_path runs/default --heatmaps
runs/default/heatmaps`` and prints the fraction, and as baselines the fraction for
the boxes of other images (each image's peak against the next image's box) and for
the image centre. On the shifted set:

  python -m legacy_resnet.data.synthetic_signs --output_dir runs/shifted --style shifted
  eval_graph.py --checkpoint_path runs/default --dataset_file runs/shifted/test_signs.h5 \\
      --heatmaps runs/default/heatmaps_shifted --output_stride 8
  python -m bench.heatmap_in_box runs/default/heatmaps_shifted/heatmaps.h5 --style shifted
"""

import argparse
import sys

import h5py
import numpy as np

from legacy_resnet.checkpointing import checkpoints
from legacy_resnet.data import synthetic_signs
from legacy_resnet.evaluate import heatmaps


def main(argv):
  parser = argparse.ArgumentParser(prog='python -m bench.heatmap_in_box')
  parser.add_argument('path', help='heatmaps.h5 written by eval_graph.py --heatmaps')
  parser.add_argument('--style', choices=sorted(synthetic_signs.STYLES), default='default',
                      help='default: the run\'s own synthetic test set; shifted: the test '
                      'file of python -m legacy_resnet.data.synthetic_signs --style shifted')
  parser.add_argument('--seed', type=int, default=0,
                      help='--style shifted: the --seed the file was written with')
  args = parser.parse_args(argv)
  with h5py.File(args.path, 'r') as source:
    peaks = source['peaks'][...]
    predicted, labels = source['predicted'][...], source['labels'][...]
    checkpoint, stride = source.attrs['checkpoint'], int(source.attrs['output_stride'])
  if args.style == 'default':
    dataset = checkpoints.read_metadata(checkpoint)['dataset']
    if dataset['kind'] != 'synthetic' or dataset['num_test'] != len(peaks):
      sys.exit('%s: not the synthetic held-out set of %s' % (args.path, checkpoint))
    seed = dataset['seed']
  else:
    seed = args.seed
  _, drawn_labels, boxes = synthetic_signs.draw_images(
      len(peaks), seed, synthetic_signs.TEST_STREAM, with_boxes=True, style=args.style)
  if not np.array_equal(drawn_labels, labels):
    sys.exit('%s: its labels are not those of the %s synthetic test set of seed %d'
             % (args.path, args.style, seed))
  inside = heatmaps.inside(peaks, boxes)
  right = predicted == labels
  print('checkpoint %s, %s set, output stride %d, %d images, FCN-mode accuracy %.4f'
        % (checkpoint, args.style, stride, len(peaks), np.mean(right)))
  print('peak in the hand box: %.4f (%d of %d); right predictions only: %.4f'
        % (inside.mean(), inside.sum(), len(peaks), inside[right].mean() if right.any()
           else float('nan')))
  print('baseline, the next image\'s box: %.4f'
        % heatmaps.inside(peaks, np.roll(boxes, 1, axis=0)).mean())
  centre = np.full_like(peaks, synthetic_signs.IMAGE_SIZE / 2.0, dtype=np.float32)
  print('baseline, the image centre in the box: %.4f' % heatmaps.inside(centre, boxes).mean())


if __name__ == '__main__':
  main(sys.argv[1:])
