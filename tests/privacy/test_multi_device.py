"""make_private under tf.distribute.MirroredStrategy with two logical CPU devices (in a subprocess:
logical devices must be configured before TensorFlow initialises)."""
import json
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import json, os
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    import numpy as np, tensorflow as tf
    from tfdpfair.compat import KERAS3, keras
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from tfdpfair import models
    from tfdpfair.privacy import DPConfig, make_private

    rng = np.random.default_rng(0)
    x = rng.uniform(size=(8, 6, 6, 1)).astype(np.float32)
    x[:4] *= 0.05
    y = rng.integers(0, 4, 8)
    keras.utils.set_random_seed(1)
    init = models.get("mlp", input_shape=(6, 6, 1), num_classes=4).get_weights()

    def one_batch(private, xs, ys):  # fit, not train_on_batch: Keras 3's gives every replica the whole batch
        private.fit(tf.data.Dataset.from_tensor_slices((xs, ys)).batch(len(xs)), epochs=1, verbose=0)

    def step(strategy, sigma, enabled=True, seed=0, xs=x, ys=y):
        with strategy.scope():
            keras.utils.set_random_seed(seed)
            model = models.get("mlp", input_shape=(6, 6, 1), num_classes=4)
            model.set_weights(init)
            dp = DPConfig(l2_norm_clip=2.0, noise_multiplier=sigma)
            private = make_private(model, dp if enabled else dp.disabled())
            private.compile(optimizer=keras.optimizers.SGD(1.0),
                            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        before = np.concatenate([w.ravel() for w in model.get_weights()])
        one_batch(private, xs, ys)
        return len(xs) * (before - np.concatenate([w.ravel() for w in model.get_weights()]))

    def noise_steps(strategy, tmp, restore_after=None):
        # per-step weight moves with C = 1e-6, σ = 1e6 (σC = 1: the move is the noise); optionally restored
        from tfdpfair.randomness import RunStreams

        def build():
            with strategy.scope():
                model = models.get("mlp", input_shape=(6, 6, 1), num_classes=4)
                model.set_weights(init)
                private = make_private(model, DPConfig(l2_norm_clip=1e-6, noise_multiplier=1e6),
                                       streams=RunStreams(seed=0, name="multi"))
                private.compile(optimizer=keras.optimizers.SGD(1.0),
                                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            return model, private

        model, private = build()
        moves, counters = [], []
        for step in range(3):
            if step == restore_after:
                ckpt = tf.train.Checkpoint(model=private, optimizer=private.optimizer)
                path = ckpt.save(tmp)
                model, private = build()
                private(x[:1])
                private.optimizer.build(private.trainable_variables)
                tf.train.Checkpoint(model=private, optimizer=private.optimizer).restore(path).expect_partial()
            before = np.concatenate([w.ravel() for w in model.get_weights()])
            one_batch(private, x, y)
            moves.append(len(x) * (before - np.concatenate([w.ravel() for w in model.get_weights()])))
            counters.append(int(private.dp_step.numpy()))
        return moves, counters

    def refused(strategy):
        with strategy.scope():
            private = make_private(models.get("mlp", input_shape=(6, 6, 1), num_classes=4), DPConfig())
            private.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        try:
            private.train_on_batch(x, y)
        except ValueError as error:
            return "use fit" in str(error)
        return False

    import tempfile

    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    whole, counters = noise_steps(mirrored, tempfile.mkdtemp() + "/c")
    resumed, _ = noise_steps(mirrored, tempfile.mkdtemp() + "/c", restore_after=2)
    single = tf.distribute.get_strategy()
    clean_two = step(mirrored, 0.0)
    noise = np.concatenate([step(mirrored, 2.0, seed=s) - clean_two for s in range(3)])
    print(json.dumps({
        "replicas": mirrored.num_replicas_in_sync,
        "clipped_sum_max_diff": float(np.max(np.abs(clean_two - step(single, 0.0)))),
        "clipped_sum_scale": float(np.max(np.abs(clean_two))),
        "nonprivate_max_diff": float(np.max(np.abs(step(mirrored, 0.0, False) - step(single, 0.0, False)))),
        "noise_std": float(np.std(noise)),
        # Keras 3's fit fails on a batch that does not split evenly across replicas (plain models too),
        # so removing one example from the 8 cannot run there
        "removal_shift": None if KERAS3 else max(float(np.linalg.norm(clean_two - step(mirrored, 0.0, xs=np.delete(x, i, 0),
                                                                    ys=np.delete(y, i, 0)))) for i in (0, 6)),
        "uneven_split_max_diff": None if KERAS3 else float(np.max(np.abs(step(mirrored, 0.0, xs=x[:7], ys=y[:7])
                                                                      - step(single, 0.0, xs=x[:7], ys=y[:7])))),
        "dp_step_counters": counters,
        "noise_std_per_step": [float(np.std(m)) for m in whole],
        "max_corr_between_steps": max(abs(float(np.corrcoef(whole[i], whole[j])[0, 1]))
                                      for i in range(3) for j in range(i + 1, 3)),
        "train_on_batch_refused": refused(mirrored),
        "resumed_minus_whole": max(float(np.max(np.abs(a - b))) for a, b in zip(resumed, whole)),
    }))
""")


@pytest.fixture(scope="session")
def report(computed_once):
    """The script's measurements, made once per session for all test processes (≈ 35 s)."""
    def measure(folder):
        proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-3000:])
        return json.loads(proc.stdout.strip().splitlines()[-1])

    return computed_once("multi_device_report", measure)


def test_two_replicas_compute_the_same_clipped_sum_as_one_device(report):
    assert report["replicas"] == 2
    assert report["clipped_sum_max_diff"] < 1e-5 * max(1.0, report["clipped_sum_scale"])
    assert report["nonprivate_max_diff"] < 1e-5


def test_noise_is_added_once_per_step_not_once_per_replica(report):
    # σC = 4; noise added by both replicas (the same seed on each) would give 8
    assert report["noise_std"] == pytest.approx(4.0, rel=0.06)


def test_sensitivity_across_replicas(report):
    """Removing one example (7 examples split 4 + 3 over the replicas) moves the sum by at most C = 2."""
    if report["removal_shift"] is None:
        pytest.skip("Keras 3 cannot fit a batch that does not split evenly across replicas")
    assert report["removal_shift"] <= 2.0 * 1.0001
    assert report["uneven_split_max_diff"] < 1e-4


def test_each_step_draws_new_noise_and_a_restored_model_continues_the_stream(report):
    """The step counter moves once per logical step (not per replica), and restoring a checkpoint under the
    strategy continues the noise stream: the resumed run's third step draws what the uninterrupted one draws."""
    assert report["dp_step_counters"] == [1, 2, 3]
    assert all(s == pytest.approx(1.0, rel=0.1) for s in report["noise_std_per_step"])
    assert report["max_corr_between_steps"] < 0.1
    assert report["resumed_minus_whole"] < 1e-3


def test_train_on_batch_is_refused_where_keras_would_replicate_the_batch(report):
    from tfdpfair.compat import TRAIN_ON_BATCH_SPLITS_ACROSS_REPLICAS

    assert report["train_on_batch_refused"] is (not TRAIN_ON_BATCH_SPLITS_ACROSS_REPLICAS)
