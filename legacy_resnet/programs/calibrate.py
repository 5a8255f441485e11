"""``python -m legacy_resnet.programs.calibrate --checkpoint_path DIR``: the calibration
training records at its end (``evaluate.calibration``), for runs trained before it did."""

import os
import sys

from legacy_resnet.checkpointing import checkpoints
from legacy_resnet.core import cli
from legacy_resnet.core.errors import SettingError
from legacy_resnet.data import datasets
from legacy_resnet.evaluate import calibration
from legacy_resnet.evaluate import evaluation


def main(argv):
  parser = cli.ArgumentParser(
      prog='python -m legacy_resnet.programs.calibrate',
      description='Fit the temperature and the "not sure" threshold of a run on its '
      'validation split and record them in its metadata (training does this at its end; '
      'this is for runs trained before).')
  parser.add_argument('--checkpoint_path', required=True, help='a train dir or a checkpoint prefix in it')
  settings = parser.parse_args(argv)
  path = settings.checkpoint_path
  metadata = checkpoints.read_metadata(path)
  if not metadata.get('validation_split'):
    raise SettingError('{checkpoint_path} %s: the run held out no validation split '
                       '({validation_split} 0); there is nothing to calibrate on', path)
  split = datasets.validation_split(metadata['dataset'], metadata.get('validation_split'),
                                    metadata.get('seed'))
  classifier = evaluation.RestoredClassifier(path)
  try:
    probabilities = evaluation.held_out_probabilities(classifier, split)
  finally:
    classifier.close()
  metadata[calibration.METADATA_KEY] = dict(calibration.fit(probabilities, split.labels),
                                            checkpoint=classifier.prefix)
  # The metadata is beside the checkpoint, or for best/ in its parent.
  folder = os.path.dirname(classifier.prefix)
  train_dir = (folder if os.path.exists(os.path.join(folder, checkpoints.METADATA_FILE))
               else os.path.dirname(folder))
  checkpoints.write_metadata(train_dir, metadata)
  print(calibration.describe(metadata[calibration.METADATA_KEY]))


if __name__ == '__main__':
  sys.exit(cli.run(main, sys.argv[1:]))
