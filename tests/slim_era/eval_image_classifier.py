"""Evaluates a checkpoint of train_image_classifier.py on the two-colours validation
split, written as the TensorFlow 1.15 research/slim eval_image_classifier.py was:
streaming metrics in an aggregate_metric_map, run once by slim.evaluation.evaluate_once.
Prints one 'eval/<metric>: <value>' line per metric. For tests/test_launcher.py, which
runs it with legacy-resnet-run."""

import math

import tensorflow as tf
import tensorflow.contrib.slim as slim
from datasets import two_colors

from nets import nets_factory

tf.app.flags.DEFINE_string('dataset_dir', None, 'The folder of the TFRecord files.')
tf.app.flags.DEFINE_string('checkpoint_path', '/tmp/tfmodel/',
                           'A checkpoint, or a folder whose latest checkpoint is evaluated.')
tf.app.flags.DEFINE_string('eval_dir', '/tmp/tfmodel/eval', 'Where event logs are written.')
tf.app.flags.DEFINE_string('model_name', 'resnet_v1_18', 'The network to evaluate.')
tf.app.flags.DEFINE_integer('batch_size', 4, 'Examples in each batch.')

FLAGS = tf.app.flags.FLAGS


def main(_):
  if not FLAGS.dataset_dir:
    raise ValueError('You must supply the dataset directory with --dataset_dir')
  tf.logging.set_verbosity(tf.logging.INFO)
  with tf.Graph().as_default():
    slim.get_or_create_global_step()
    dataset = two_colors.get_split('validation', FLAGS.dataset_dir)
    network_fn = nets_factory.get_network_fn(FLAGS.model_name, num_classes=dataset.num_classes,
                                             is_training=False)
    # One reader, unshuffled: the batches go through the split once, in order.
    provider = slim.dataset_data_provider.DatasetDataProvider(
        dataset, shuffle=False, common_queue_capacity=2 * FLAGS.batch_size,
        common_queue_min=FLAGS.batch_size)
    image, label = provider.get(['image', 'label'])
    images, labels = tf.train.batch([two_colors.preprocess(image), label],
                                    batch_size=FLAGS.batch_size, num_threads=1,
                                    capacity=4 * FLAGS.batch_size)
    logits, _ = network_fn(images)
    predictions = tf.argmax(logits, 1)
    names_to_values, names_to_updates = slim.metrics.aggregate_metric_map({
        'Accuracy': slim.metrics.streaming_accuracy(predictions, labels),
        'tf_metrics_accuracy': tf.metrics.accuracy(labels, predictions),
    })
    if tf.gfile.IsDirectory(FLAGS.checkpoint_path):
      checkpoint_path = tf.train.latest_checkpoint(FLAGS.checkpoint_path)
    else:
      checkpoint_path = FLAGS.checkpoint_path
    tf.logging.info('Evaluating %s', checkpoint_path)
    values = slim.evaluation.evaluate_once(
        master='', checkpoint_path=checkpoint_path, logdir=FLAGS.eval_dir,
        num_evals=int(math.ceil(dataset.num_samples / float(FLAGS.batch_size))),
        eval_op=list(names_to_updates.values()), final_op=names_to_values,
        variables_to_restore=slim.get_variables_to_restore())
    for name, value in sorted(values.items()):
      print('eval/%s: %.6f' % (name, value))


if __name__ == '__main__':
  tf.app.run()
