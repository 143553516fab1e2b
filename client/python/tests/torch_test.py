"""paramserver.torch against the real server: TensorFlow's HWIO kernels as
conv2d's OIHW parameters, autograd's gradients back in HWIO, training steps
that pull, run backward and push."""

import threading

import numpy as np
import pytest

import paramserver as tf

import torch  # noqa: E402  pylint: disable=wrong-import-order
import paramserver.torch as ps_torch  # noqa: E402  pylint: disable=wrong-import-position
F = torch.nn.functional


def _conv_nhwc(images, kernel):
    """TensorFlow's conv2d (NHWC images, HWIO kernel, SAME, stride 1), and
    the windows it read, in numpy."""
    k = kernel.shape[0]
    padded = np.pad(images, ((0, 0), (k // 2, k // 2), (k // 2, k // 2),
                             (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (k, k),
                                                       axis=(1, 2))
    return np.einsum("nyxihw,hwio->nyxo", windows, kernel), windows


def _conv_torch(images_nhwc, weight, bias=None):
    out = F.conv2d(torch.from_numpy(images_nhwc.transpose(0, 3, 1, 2).copy()),
                   weight, bias, padding=weight.shape[-1] // 2)
    return out


def _kernel(scope, name, value):
    with tf.variable_scope(scope):
        return tf.get_variable(name, initializer=value)


def test_a_tensorflow_kernel_convolves_as_in_tensorflow(connected):
    rng = np.random.default_rng(1)
    hwio = rng.standard_normal((3, 3, 2, 4)).astype(np.float32)
    images = rng.standard_normal((2, 6, 5, 2)).astype(np.float32)
    params = ps_torch.ParameterSet()
    weight = params.add(_kernel(connected, "w", hwio),
                        layout=ps_torch.CONV2D_HWIO)
    assert tuple(weight.shape) == (4, 2, 3, 3)
    assert weight.requires_grad
    expected, _ = _conv_nhwc(images, hwio)
    got = _conv_torch(images, weight).detach().numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_gradients_go_back_in_the_servers_layout(connected):
    rng = np.random.default_rng(2)
    hwio = rng.standard_normal((3, 3, 2, 4)).astype(np.float32)
    bias0 = np.float32([0.5, -0.5, 1.0, 2.0])
    images = rng.standard_normal((2, 5, 5, 2)).astype(np.float32)
    weights_out = rng.standard_normal((2, 5, 5, 4)).astype(np.float32)
    w = _kernel(connected, "w", hwio)
    b = _kernel(connected, "b", bias0)
    params = ps_torch.ParameterSet()
    weight = params.add(w, layout=ps_torch.CONV2D_HWIO)
    bias = params.add(b)
    factors = torch.from_numpy(weights_out.transpose(0, 3, 1, 2).copy())

    def loss_fn():
        return (_conv_torch(images, weight, bias) * factors).sum()

    params.step(loss_fn, tf.train.GradientDescentOptimizer(1.0))
    # d/dW sum(conv(x, W) * R) = sum over positions of window x R.
    _, windows = _conv_nhwc(images, hwio)
    grad_w = np.einsum("nyxihw,nyxo->hwio", windows, weights_out)
    grad_b = weights_out.sum(axis=(0, 1, 2))
    np.testing.assert_allclose(w.numpy(), hwio - grad_w, rtol=1e-4,
                               atol=1e-4)
    np.testing.assert_allclose(b.numpy(), bias0 - grad_b, rtol=1e-5,
                               atol=1e-4)
    assert (w.version, b.version) == (2, 2)
    # The next pull brings the parameters to the server's values in place.
    before = weight.data_ptr()
    params.pull()
    assert weight.data_ptr() == before
    np.testing.assert_allclose(
        weight.detach().numpy(), (hwio - grad_w).transpose(3, 2, 0, 1),
        rtol=1e-4, atol=1e-4)


def test_a_pull_copies_only_what_another_worker_changed(connected, server):
    a = _kernel(connected, "a", np.float32([1, 2]))
    b = _kernel(connected, "b", np.float32([3]))
    params = ps_torch.ParameterSet()
    pa, pb_ = params.add(a), params.add(b)
    with torch.no_grad():
        pa.add_(100.0)  # A local change no pull should undo: a is unchanged.
    other = tf.Connection(server.address)
    other.push([(b.op_name, 0, np.float32([9]).tobytes(), None)])
    other.close()
    params.pull()
    np.testing.assert_array_equal(pa.detach().numpy(), [101, 102])
    np.testing.assert_array_equal(pb_.detach().numpy(), [9])


def test_layouts_are_checked(connected):
    params = ps_torch.ParameterSet()
    v = _kernel(connected, "v", np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="rank-4 kernel"):
        params.add(v, layout=ps_torch.CONV2D_HWIO)
    with pytest.raises(ValueError, match="Unknown layout"):
        params.add(v, layout="nchw")
    assert len(params) == 0
    with pytest.raises(ValueError, match="No gradients"):
        params.add(v)
        params.push_gradients(tf.train.GradientDescentOptimizer(0.1))


def test_two_workers_train_one_filter_and_the_loss_falls(connected):
    """Two threads, each with its own parameters over the same variables,
    learn a fixed teacher convolution with Adam on the server."""
    rng = np.random.default_rng(3)
    teacher = torch.from_numpy(
        rng.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.5)
    with tf.variable_scope(connected, reuse=tf.AUTO_REUSE):
        w = tf.get_variable("weights", [3, 3, 3, 4],
                            initializer=tf.random_normal_initializer(
                                stddev=0.1, seed=5))
        b = tf.get_variable("biases", [4], initializer=tf.zeros_initializer())
    probe = torch.from_numpy(rng.standard_normal((8, 3, 8, 8)).astype(
        np.float32))

    def evaluate():
        params = ps_torch.ParameterSet()
        weight = params.add(w, layout=ps_torch.CONV2D_HWIO)
        bias = params.add(b)
        with torch.no_grad():
            return float(F.mse_loss(F.conv2d(probe, weight, bias, padding=1),
                                    F.conv2d(probe, teacher, padding=1)))

    steps, failures = 40, []

    def worker(seed):
        try:
            params = ps_torch.ParameterSet()
            weight = params.add(w, layout=ps_torch.CONV2D_HWIO)
            bias = params.add(b)
            opt = tf.train.AdamOptimizer(0.05)
            data = torch.Generator().manual_seed(seed)
            for _ in range(steps):
                images = torch.randn(4, 3, 8, 8, generator=data)
                targets = F.conv2d(images, teacher, padding=1)
                params.step(lambda: F.mse_loss(  # pylint: disable=cell-var-from-loop
                    F.conv2d(images, weight, bias, padding=1), targets), opt)
        except Exception as error:  # pylint: disable=broad-except
            failures.append(error)

    before = evaluate()
    threads = [threading.Thread(target=worker, args=(s,)) for s in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    after = evaluate()
    assert after < 0.2 * before, (before, after)
    tf.pull([w])
    assert w.version == 1 + 2 * steps  # Every push applied, none lost.
