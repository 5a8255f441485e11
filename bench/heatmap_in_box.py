"""How often the peak of the predicted class's FCN-mode map lies in the hand's box, on
the synthetic held-out set of a run trained on the embedded synthetic set.

  python -m bench.heatmap_in_box runs/default/heatmaps/heatmaps.h5

reads the file written by ``eval_graph.py --checkpoint_path runs/default --heatmaps
runs/default/heatmaps`` and prints the fraction, and as a baseline the fraction for
the boxes of other images (each image's peak against the next image's box).
"""

import sys

import h5py
import numpy as np

from legacy_resnet.checkpointing import checkpoints
from legacy_resnet.data import synthetic_signs
from legacy_resnet.evaluate import heatmaps


def main(path):
  with h5py.File(path, 'r') as source:
    peaks = source['peaks'][...]
    predicted, labels = source['predicted'][...], source['labels'][...]
    checkpoint, stride = source.attrs['checkpoint'], int(source.attrs['output_stride'])
  dataset = checkpoints.read_metadata(checkpoint)['dataset']
  if dataset['kind'] != 'synthetic' or dataset['num_test'] != len(peaks):
    sys.exit('%s: not the synthetic held-out set of %s' % (path, checkpoint))
  boxes = synthetic_signs.hand_boxes('test', len(peaks), dataset['seed'])
  inside = heatmaps.inside(peaks, boxes)
  print('checkpoint %s, output stride %d, %d images, FCN-mode accuracy %.4f'
        % (checkpoint, stride, len(peaks), np.mean(predicted == labels)))
  print('peak in the hand box: %.4f (%d of %d); right predictions only: %.4f'
        % (inside.mean(), inside.sum(), len(peaks), inside[predicted == labels].mean()))
  print('baseline, the next image\'s box: %.4f'
        % heatmaps.inside(peaks, np.roll(boxes, 1, axis=0)).mean())


if __name__ == '__main__':
  main(sys.argv[1])
