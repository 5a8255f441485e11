"""What the two programs set in the environment before TensorFlow loads, beyond oneDNN
(tests/test_onednn.py): tf-keras rather than Keras 3 behind tf.keras, unless the user
chose."""

import os
import subprocess
import sys

import pytest
from scriptutil import ROOT

# The program's main with --help (which imports TensorFlow), then which Keras is loaded.
CODE = ('import sys, {module}\n'
        'try:\n'
        '  {module}.main(["--help"])\n'
        'except SystemExit:\n'
        '  pass\n'
        'print("keras 3:", "keras.src" in sys.modules, "tf-keras:", "tf_keras" in sys.modules)\n')


@pytest.mark.parametrize('module, value, expected', [
    ('train_graph', None, 'keras 3: False tf-keras: True'),
    ('eval_graph', None, 'keras 3: False tf-keras: True'),
    ('train_graph', '0', 'keras 3: True'),
])
def test_the_programs_skip_keras_3_unless_the_user_chose(module, value, expected):
  environ = {name: setting for name, setting in os.environ.items()
             if name != 'TF_USE_LEGACY_KERAS'}
  if value is not None:
    environ['TF_USE_LEGACY_KERAS'] = value
  result = subprocess.run([sys.executable, '-c', CODE.format(module=module)], cwd=ROOT,
                          env=environ, capture_output=True, text=True, timeout=300, check=True)
  assert expected in result.stdout.splitlines()[-1]
