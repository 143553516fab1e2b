"""A Python training worker for the image filter: the same job as the C++
examples/train_image_filter, on the same variables, so Python and C++
workers train one model together.

Each step it pulls the weights that changed, runs the filter forward and
backward with PyTorch (autograd), and pushes the gradients, which the server
applies with the chosen optimizer. The filter learns a fixed, hidden
"teacher" filter on random images. The teacher's variables are made on the
server from the C++ worker's initializer specs (teacher/conv1/weights, ...),
so both languages learn the same teacher.

    /usr/bin/python3 examples/python/train_image_filter.py --server=HOST:PORT \\
        --worker=1 --steps=100
"""

import argparse
import os
import sys

import grpc
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from image_filter import my_image_filter  # noqa: E402  pylint: disable=wrong-import-position
import paramserver as tf  # noqa: E402  pylint: disable=wrong-import-position
import paramserver.torch as ps_torch  # noqa: E402  pylint: disable=wrong-import-position

_OPTIMIZERS = {
    "sgd": tf.train.GradientDescentOptimizer,
    "momentum": lambda lr: tf.train.MomentumOptimizer(lr, momentum=0.9),
    "adagrad": tf.train.AdagradOptimizer,
    "adam": tf.train.AdamOptimizer,
    "lazy_adam": tf.train.LazyAdamOptimizer,
    "ftrl": tf.train.FtrlOptimizer,
}
_EVALUATION_SEED = 999


def teacher_filter():
    """The hidden teacher's four tensors (as PyTorch takes them): the C++
    worker's TeacherWeights, which the server's initializers compute from
    the same specs."""
    params = ps_torch.ParameterSet()
    with tf.variable_scope("teacher", reuse=tf.AUTO_REUSE):
        for t, (scope, name, shape) in enumerate([
                ("conv1", "weights", [5, 5, 32, 32]),
                ("conv1", "biases", [32]),
                ("conv2", "weights", [5, 5, 32, 32]),
                ("conv2", "biases", [32])]):
            init = (tf.random_normal_initializer(stddev=0.05, seed=1000 + t)
                    if t % 2 == 0 else
                    tf.random_uniform_initializer(0.0, 0.1, seed=1000 + t))
            with tf.variable_scope(scope):
                variable = tf.get_variable(name, shape, initializer=init,
                                           trainable=False)
            params.add(variable,
                       layout=ps_torch.CONV2D_HWIO if t % 2 == 0 else None)
    return [p.detach() for p in params.parameters()]


def apply_filter(tensors, images):
    """conv1 -> ReLU -> conv2 -> ReLU over [w1, b1, w2, b2] (OIHW)."""
    w1, b1, w2, b2 = tensors
    relu1 = F.relu(F.conv2d(images, w1, b1, padding="same"))
    return F.relu(F.conv2d(relu1, w2, b2, padding="same"))


def random_images(batch, size, seed):
    return torch.rand(batch, 32, size, size,
                      generator=torch.Generator().manual_seed(seed))


def progress(worker, step, steps, loss, stale):
    filled = step * 20 // steps
    print("worker %d [%s%s] step %4d/%d  loss %.6f%s" % (
        worker, "#" * filled, "." * (20 - filled), step, steps, loss,
        "  (%d stale pushes rejected)" % stale if stale else ""), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", default="127.0.0.1:2222")
    parser.add_argument("--servers", default="",
                        help="HOST:PORT,... in shard order (overrides "
                        "--server)")
    parser.add_argument("--job", default=None)
    parser.add_argument("--tls_ca", default="",
                        help="PEM CA the server's certificate chains to; "
                        "any --tls_* flag turns TLS on")
    parser.add_argument("--tls_cert", default="",
                        help="PEM client certificate, for mutual TLS")
    parser.add_argument("--tls_key", default="",
                        help="PEM private key of --tls_cert")
    parser.add_argument("--token", default=os.environ.get("PS_TOKEN"))
    parser.add_argument("--worker", type=int, default=0)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--optimizer", default="adam",
                        choices=sorted(_OPTIMIZERS))
    parser.add_argument("--learning_rate", type=float, default=0.001)
    parser.add_argument("--max_staleness", type=int, default=0)
    parser.add_argument("--log_every", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1,
                        help="PyTorch's intra-op threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    servers = args.servers.split(",") if args.servers else args.server
    tls = None
    if args.tls_ca or args.tls_cert or args.tls_key:
        tls = tf.TlsOptions.from_files(args.tls_ca, args.tls_cert,
                                       args.tls_key)
    tf.connect(servers, token=args.token, job=args.job, tls=tls)
    optimizer = _OPTIMIZERS[args.optimizer](args.learning_rate)

    # The student: the seed's filter under "student", made by whichever
    # worker (of either language) comes first, with the C++ worker's specs.
    params = ps_torch.ParameterSet()
    with tf.variable_scope("student", reuse=tf.AUTO_REUSE):
        my_image_filter(params, random_images(1, args.size, 0),
                        tf.random_normal_initializer(stddev=0.05, seed=7))
    student = params.parameters()
    teacher = teacher_filter()

    def evaluation_loss():
        images = random_images(args.batch, args.size, _EVALUATION_SEED)
        params.pull()
        with torch.no_grad():
            return float(F.mse_loss(apply_filter(student, images),
                                    apply_filter(teacher, images)))

    print("worker %d: evaluation loss before training %.6f" %
          (args.worker, evaluation_loss()), flush=True)
    stale, window = 0, 0.0
    for step in range(1, args.steps + 1):
        images = random_images(args.batch, args.size,
                               args.worker << 32 | step)
        with torch.no_grad():
            targets = apply_filter(teacher, images)
        try:
            window += params.step(
                lambda: F.mse_loss(apply_filter(student, images), targets),  # pylint: disable=cell-var-from-loop
                optimizer, max_staleness=args.max_staleness)
        except tf.ParameterServerError as error:
            if error.code != grpc.StatusCode.ABORTED:
                raise
            stale += 1
        if step % args.log_every == 0 or step == args.steps:
            progress(args.worker, step, args.steps,
                     window / (step % args.log_every or args.log_every), stale)
            window = 0.0
    print("worker %d: evaluation loss after training %.6f" %
          (args.worker, evaluation_loss()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
