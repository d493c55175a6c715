"""Train a course model on one device or on several (``fit``), and several models at once (``side_by_side``).

A notebook trains with ``model.fit``; to spread the same training over several
GPUs (or several logical CPUs, to try it on a laptop) give ``fit`` a strategy:

    strategy = tf.distribute.MirroredStrategy()          # every visible GPU
    history = cvlib.train.fit(model, train_ds, strategy=strategy, epochs=10)

Data-parallel training copies the model onto each device, splits every global
batch between them, and sums the gradients before the one update, so with the
same global batch it computes the same step as one device (up to float rounding)
for every layer whose output for an image does not depend on the other images
of the batch. BatchNormalization does depend on them: each replica normalises
with its own share of the batch, unless the layer is built with
``synchronized=True``.

The model's variables must be created inside the strategy's scope, so ``fit``
rebuilds the compiled model there (same architecture, weights and compile
configuration; a fresh optimizer state), trains that copy and writes the trained
weights back into ``model``. The same call takes a Keras distribution under the
JAX backend (``keras.distribution.DataParallel``), whose ``scope()`` plays the
strategy's part. Any notebook's ``model.fit(x, y, ...)`` becomes
``fit(model, (x, y), ...)``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor


def side_by_side(*jobs):
    """Run the functions ``jobs`` (no arguments each) at the same time, one thread each; their results, in order.

    TensorFlow computes a step of a small network (notebook 15's click FCNs on 48-pixel crops) on little more
    than one core of a laptop's CPU; two trainings side by side, each in its own thread, keep both cores busy and
    end sooner than one after the other. They give the same weights as one after the other provided no job draws
    on global random state while it runs: shuffle with a seeded pipeline (``tf.data.Dataset.shuffle(n, seed=s)``)
    rather than ``fit(shuffle=True)``, whose order depends on the order in which the threads build their
    pipelines. Waits for every job; the first failing job's exception (in the order given) is raised here.
    """
    if not jobs or not all(callable(job) for job in jobs):
        raise ValueError(f"jobs: expected one or more functions of no arguments, got {jobs!r}")
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = [pool.submit(job) for job in jobs]
    return [future.result() for future in futures]


def logical_cpus(count: int) -> list[str]:
    """Split the machine's CPU into ``count`` logical TensorFlow devices; returns their names.

    A way to try ``MirroredStrategy`` without GPUs. It must run before TensorFlow initialises its
    devices (before any tensor is made), so call it first thing in a fresh process; afterwards it
    raises a RuntimeError saying so.
    """
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError(f"count: expected a positive integer number of devices, got {count!r}")
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError as err:
        raise RuntimeError(
            "logical_cpus must be called before TensorFlow is initialised (before any tensor or model "
            f"is created in this process): {err}"
        ) from err
    return [device.name for device in tf.config.list_logical_devices("CPU")]


def _is_strategy(strategy) -> bool:
    import keras

    # Keras exports no common base class of its distributions; these are the two it has.
    if isinstance(strategy, (keras.distribution.DataParallel, keras.distribution.ModelParallel)):
        return True
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return isinstance(strategy, tf.distribute.Strategy)
    return False


def _rebuild(model):
    """A copy of the compiled ``model`` made in the current scope: architecture, weights, compile configuration."""
    import keras

    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    try:
        copy.compile_from_config(model.get_compile_config())
    except Exception as err:  # a loss or metric Keras cannot rebuild from its config (e.g. a lambda)
        raise ValueError(
            "model: its compile configuration cannot be rebuilt inside the strategy's scope "
            f"({type(err).__name__}: {err}); use registered losses and metrics (cvlib's are), or pass a "
            "function that builds and compiles the model"
        ) from err
    return copy


def fit(
    model,
    data,
    strategy=None,
    *,
    epochs: int = 1,
    batch_size: int | None = None,
    steps_per_epoch: int | None = None,
    validation_data=None,
    callbacks: list | None = None,
    shuffle: bool = True,
    verbose: int = 2,
):
    """Train ``model`` on ``data``, on one device (``strategy=None``) or under ``strategy``; returns the History.

    Args:
        model: a compiled ``keras.Model``, or a function of no arguments that builds and compiles one
            (called inside the strategy's scope). With a strategy, a given model gets the trained
            weights at the end (its optimizer state is not carried over: the copy starts afresh).
        data: a ``tf.data.Dataset`` of ``(x, y)`` batches (the *global* batch size: each of the N
            devices gets 1/N of it), or an ``(x, y)`` pair of arrays with ``batch_size``.
        strategy: None, a ``tf.distribute.Strategy`` (TensorFlow backend: ``MirroredStrategy`` for
            several GPUs or logical CPUs, see ``logical_cpus``) or a Keras distribution (JAX backend:
            ``keras.distribution.DataParallel`` or ``ModelParallel``).
        epochs, batch_size, steps_per_epoch, validation_data, callbacks, shuffle, verbose: as ``model.fit``
            (``verbose=2``: one line per epoch, readable in CI logs).

    ``history.model`` is the model that was trained (the copy made in the strategy's scope, or the one
    a build function returned).
    """
    import keras

    if strategy is not None and not _is_strategy(strategy):
        raise ValueError(
            "strategy: expected None, a tf.distribute.Strategy or a Keras distribution (DataParallel, "
            f"ModelParallel), got {type(strategy).__name__}"
        )
    if not callable(model):
        raise ValueError(f"model: expected a compiled keras.Model or a function that builds one, got {type(model)}")
    if isinstance(model, keras.Model) and not model.compiled:
        raise ValueError(f"model: {model.name!r} is not compiled; call model.compile(optimizer, loss) first")
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
        raise ValueError(f"epochs: expected a positive integer, got {epochs!r}")
    if isinstance(data, (tuple, list)):
        if len(data) != 2:
            raise ValueError(f"data: expected (x, y) or a tf.data.Dataset, got a sequence of {len(data)} items")
        if batch_size is None:
            raise ValueError("batch_size: give the global batch size when data is an (x, y) pair of arrays")
        x, y = data
    else:
        if batch_size is not None:
            raise ValueError("batch_size: a dataset is already batched; batch it with the global batch size instead")
        x, y = data, None
    kwargs = dict(epochs=epochs, batch_size=batch_size, steps_per_epoch=steps_per_epoch,
                  validation_data=validation_data, callbacks=callbacks, shuffle=shuffle, verbose=verbose)

    if strategy is None:
        trained = model if isinstance(model, keras.Model) else model()
        return trained.fit(x, y, **kwargs)
    with strategy.scope():
        trained = _rebuild(model) if isinstance(model, keras.Model) else model()
        history = trained.fit(x, y, **kwargs)
    if isinstance(model, keras.Model):
        model.set_weights(trained.get_weights())
    return history
