"""The frozen inference graph: every batch norm of each network folds into its
convolution with the same outputs within 1e-5, and what cannot be folded is left alone."""

import netutil
import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

from legacy_resnet.graph import inference_graph
from nets import nets_factory

pytestmark = netutil.QUIET


def _randomize_batch_norm_statistics(session):
  """Moving means, variances, gammas and betas far from their initial 0s and 1s, so a
  wrong fold cannot hide behind the identity."""
  rng = np.random.default_rng(3)
  for variable in slim.get_model_variables():
    name = variable.op.name
    if name.endswith(('moving_mean', 'beta')):
      variable.load(rng.normal(0.0, 0.5, variable.shape).astype(np.float32), session)
    elif name.endswith(('moving_variance', 'gamma')):
      variable.load(rng.uniform(0.5, 2.0, variable.shape).astype(np.float32), session)


def _op_types(graph_def):
  return [node.op for node in graph_def.node]


@pytest.mark.parametrize('model_name', ['resnet_v1_18', 'resnet_v1_50', 'resnet50_signs'])
def test_every_batch_norm_of_a_network_folds_with_the_same_outputs(model_name):
  with netutil.graph_session() as session:
    images = tf.compat.v1.placeholder(tf.float32, [None, 40, 40, 3])
    _, end_points = nets_factory.get_network_fn(model_name, num_classes=5)(images)
    probabilities = end_points['predictions']
    session.run(tf.compat.v1.global_variables_initializer())
    _randomize_batch_norm_statistics(session)
    batch_norms = _op_types(session.graph.as_graph_def()).count('FusedBatchNormV3')
    batch = netutil.random_images(4, 40, 40, seed=2)
    expected = session.run(probabilities, {images: batch})
    frozen = inference_graph.FrozenOutput(session, images, probabilities, None)
  with frozen.session:
    assert batch_norms > 0 and frozen.folded == batch_norms
    frozen_types = _op_types(frozen.session.graph.as_graph_def())
    assert not [kind for kind in frozen_types if kind.startswith('FusedBatchNorm')]
    assert 'VarHandleOp' not in frozen_types
    np.testing.assert_allclose(frozen.session.run(frozen.output, {frozen.inputs: batch}),
                               expected, atol=1e-5)
  assert expected.std() > 1e-3  # Not a constant output that any fold would match.


def _graph_with_unfoldable_batch_norms():
  """A frozen graph with three conv + batch-norm pairs: one foldable, one whose
  convolution output is also read elsewhere, one in training mode."""
  with tf.Graph().as_default() as graph:
    rng = np.random.default_rng(1)
    images = tf.compat.v1.placeholder(tf.float32, [2, 6, 6, 3], name='images')
    outputs = []
    for name, is_training in (('folds', False), ('shared', False), ('training', True)):
      kernel = tf.constant(rng.normal(size=(3, 3, 3, 4)).astype(np.float32))
      convolution = tf.nn.conv2d(images, kernel, 1, 'SAME', name=name + '_conv')
      parameters = [tf.constant(value.astype(np.float32)) for value in (
          rng.uniform(0.5, 2, 4), rng.normal(size=4), rng.normal(size=4),
          rng.uniform(0.5, 2, 4))]
      normalized, _, _ = tf.compat.v1.nn.fused_batch_norm(
          convolution, parameters[0], parameters[1],
          mean=None if is_training else parameters[2],
          variance=None if is_training else parameters[3],
          is_training=is_training, name=name + '_bn')
      outputs.append(normalized)
      if name == 'shared':
        outputs.append(convolution * 2.0)
    total = tf.add_n([tf.reduce_sum(output) for output in outputs], name='total')
  return graph, images, total


def test_only_foldable_batch_norms_fold_and_the_total_stays():
  graph, images, total = _graph_with_unfoldable_batch_norms()
  batch = netutil.random_images(2, 6, 6, seed=4)
  with tf.compat.v1.Session(graph=graph) as session:
    expected = session.run(total, {images: batch})
  folded_def, count = inference_graph.fold_batch_norms(graph.as_graph_def(), ['total'])
  assert count == 1
  ops = {node.name: node.op for node in folded_def.node}
  assert ops['folds_bn'] == 'BiasAdd'
  assert ops['shared_bn'].startswith('FusedBatchNorm')
  assert ops['training_bn'].startswith('FusedBatchNorm')
  with tf.Graph().as_default() as folded_graph:
    tf.compat.v1.import_graph_def(folded_def, name='')
    with tf.compat.v1.Session(graph=folded_graph) as session:
      result = session.run('total:0', {'images:0': batch})
  np.testing.assert_allclose(result, expected, rtol=1e-5)
