"""TensorFlow's my_image_filter from Python, its variables on the server and
its convolutions in PyTorch: one set of weights shared across two images.

    /usr/bin/python3 examples/python/image_filter.py --server=HOST:PORT

The functions below are the seed's text with two changes the API needs:
the ParameterSet that holds the server's variables as PyTorch parameters
is passed along, and torch.nn.functional does the convolution (NCHW images,
the HWIO kernels held as OIHW).
"""

import argparse
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "client", "python"))
import paramserver as tf  # noqa: E402  pylint: disable=wrong-import-position
import paramserver.torch as ps_torch  # noqa: E402  pylint: disable=wrong-import-position


def conv_relu(params, input, kernel_shape, bias_shape,  # pylint: disable=redefined-builtin
              weights_initializer=None):
    # Create variable named "weights".
    weights = tf.get_variable(
        "weights", kernel_shape,
        initializer=weights_initializer or tf.random_normal_initializer())
    # Create variable named "biases".
    biases = tf.get_variable("biases", bias_shape,
                             initializer=tf.constant_initializer(0.0))
    conv = F.conv2d(input, params.add(weights, layout=ps_torch.CONV2D_HWIO),
                    padding="same")
    return F.relu(conv + params.add(biases)[:, None, None])


def my_image_filter(params, input_images, weights_initializer=None):
    with tf.variable_scope("conv1"):
        # Variables created here will be named "conv1/weights", "conv1/biases".
        relu1 = conv_relu(params, input_images, [5, 5, 32, 32], [32],
                          weights_initializer)
    with tf.variable_scope("conv2"):
        # Variables created here will be named "conv2/weights", "conv2/biases".
        return conv_relu(params, relu1, [5, 5, 32, 32], [32],
                         weights_initializer)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", default="127.0.0.1:2222")
    parser.add_argument("--scope", default="image_filters")
    args = parser.parse_args()
    tf.connect(args.server)
    generator = torch.Generator().manual_seed(0)
    image1 = torch.rand(1, 32, 32, 32, generator=generator)
    image2 = torch.rand(1, 32, 32, 32, generator=generator)

    params = ps_torch.ParameterSet()
    with tf.variable_scope(args.scope) as scope:
        result1 = my_image_filter(params, image1)
        scope.reuse_variables()
        result2 = my_image_filter(params, image2)
    print("Two images through one filter; its %d variables:" % len(params))
    for variable in params.variables():
        print("  %-30s %s" % (variable.name, tuple(variable.shape)))
    # Another worker's view: a fresh ParameterSet reusing the scope pulls
    # the same four variables and computes the same result.
    with tf.variable_scope(args.scope, reuse=True), torch.no_grad():
        alone = my_image_filter(ps_torch.ParameterSet(), image2)
    same = torch.equal(alone, result2)
    print("result1 %s mean %.4f; result2 %s mean %.4f; result2 reproduced "
          "with the shared weights: %s" % (
              tuple(result1.shape), float(result1.mean()),
              tuple(result2.shape), float(result2.mean()), same))
    # Without reuse the second call is refused, as TensorFlow refuses it.
    try:
        with tf.variable_scope(args.scope):
            my_image_filter(ps_torch.ParameterSet(), image1)
    except ValueError as error:
        print("Without reuse: ValueError: %s" % str(error).split("\n")[0])
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
