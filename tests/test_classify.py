"""Classification: the task generators (label semantics recomputed in NumPy), the batched fit against a NumPy
ridge on hand-computed states, pooling, accuracy / confusion matrix, the raw-input baseline, and the runner."""

import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_esn import np_step

import reservoirs as rc
import tasks
from reservoirs import _registry
from reservoirs._classify import fit_sequences, plot_classification, run_classify

KEY = jax.random.key(0)


# ------------------------------------------------------------------------------------------------------------
# NumPy references.


def np_states(esn, u):
    """States after each input of one sequence, from rest (a plain loop over time)."""
    x = np.zeros(esn.size)
    out = []
    for row in np.asarray(u):
        x = np_step(esn, x, row)
        out.append(x)
    return np.array(out)


def np_ridge(Z, Y, alpha):
    """Ridge with an unpenalised intercept: centre, solve (Zc'Zc + alpha I) W = Zc'Yc, b = ybar - zbar W."""
    zm, ym = Z.mean(0), Y.mean(0)
    Zc, Yc = Z - zm, Y - ym
    W = np.linalg.solve(Zc.T @ Zc + alpha * np.eye(Z.shape[1]), Zc.T @ Yc)
    return W.T, ym - zm @ W


def one_hot(labels, n):
    return np.eye(n)[np.asarray(labels)]


@pytest.fixture(scope="module")
def esn():
    return rc.ESN(1, 20, key=jax.random.key(1), gain=0.9, bias_scaling=0.3, input_scaling=0.8, leak=0.7)


# ------------------------------------------------------------------------------------------------------------
# Generators.


def test_sine_square_semantics_and_determinism():
    t = tasks.sine_square(40, key=KEY)
    assert t.inputs.shape == (320, 1) and t.labels.shape == (320,) and not t.per_sequence
    assert t.labels.dtype == jnp.int32 and t.n_classes == 2 and t.class_names == ("sine", "square")
    lab = np.asarray(t.labels).reshape(40, 8)
    assert np.all(lab == lab[:, :1])  # one class per period
    assert 0 < lab[:, 0].sum() < 40  # both classes occur
    k = np.arange(8)
    ref = np.where(lab == 1, np.where(k < 4, 1.0, -1.0), np.sin(2 * np.pi * k / 8)).reshape(-1)
    np.testing.assert_allclose(np.asarray(t.inputs[:, 0]), ref, atol=1e-12)
    again = tasks.sine_square(40, key=KEY)
    assert np.array_equal(again.inputs, t.inputs) and np.array_equal(again.labels, t.labels)
    assert not np.array_equal(tasks.sine_square(40, key=jax.random.key(5)).labels, t.labels)
    noisy = tasks.sine_square(40, key=KEY, noise=0.1)
    assert np.array_equal(noisy.labels, t.labels)
    assert 0.05 < float(jnp.std(noisy.inputs - t.inputs)) < 0.15


@pytest.mark.parametrize("delay,hold", [(0, 1), (3, 1), (2, 3)])
def test_delayed_xor_semantics(delay, hold):
    t = tasks.delayed_xor(300, key=KEY, delay=delay, hold=hold)
    u = np.asarray(t.inputs).astype(int)
    assert t.inputs.shape == (300, 2) and set(np.unique(u)) == {0, 1}
    past = np.vstack([np.zeros((delay, 2), int), u[: 300 - delay]])
    np.testing.assert_array_equal(np.asarray(t.labels), past[:, 0] ^ past[:, 1])
    blocks = u[: 300 // hold * hold].reshape(-1, hold, 2)
    assert np.all(blocks == blocks[:, :1])  # bits held for `hold` steps
    assert 0.4 < np.mean(np.asarray(t.labels)) < 0.6


def test_temporal_patterns_are_the_labelled_chirp():
    # Without jitter, tempo change or noise, each sequence is env * sin(phi0 + psi_class(t)) with an unknown phase:
    # a least-squares fit of the phase leaves ~0 residual for the labelled class and a large one for the other.
    t = tasks.temporal_patterns(16, key=KEY, length=50, duration=40.0, jitter=0, stretch=0.0, noise=0.0)
    assert t.inputs.shape == (16, 50, 1) and t.labels.shape == (16,) and t.per_sequence
    tau = np.arange(50) / 40.0
    env = np.where(tau < 1, np.sin(np.pi * np.clip(tau, 0, 1)) ** 2, 0.0)

    def residual(u, fa, fb):
        psi = 2 * np.pi * 40.0 * (fa * tau + 0.5 * (fb - fa) * tau**2)
        A = np.stack([env * np.cos(psi), env * np.sin(psi)], 1)
        c, *_ = np.linalg.lstsq(A, u, rcond=None)
        return np.linalg.norm(A @ c - u) / np.linalg.norm(u)

    for u, lab in zip(np.asarray(t.inputs[:, :, 0]), np.asarray(t.labels), strict=True):
        rising, falling = residual(u, 0.04, 0.16), residual(u, 0.16, 0.04)
        own, other = (rising, falling) if lab == 0 else (falling, rising)
        assert own < 1e-6 < 0.3 < other
    b = tasks.temporal_patterns(16, key=KEY, length=50, duration=40.0, jitter=0, stretch=0.0, noise=0.0)
    assert np.array_equal(t.inputs, b.inputs) and np.array_equal(t.labels, b.labels)
    assert 0 < int(t.labels.sum()) < 16


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: tasks.sine_square(0, key=KEY), "n_periods"),
        (lambda: tasks.sine_square(5, key=KEY, samples_per_period=7), "samples_per_period"),
        (lambda: tasks.sine_square(5, key=KEY, p_square=1.5), "p_square"),
        (lambda: tasks.sine_square(5, key=KEY, noise=-1.0), "noise"),
        (lambda: tasks.delayed_xor(10, key=KEY, delay=-1), "delay"),
        (lambda: tasks.delayed_xor(10, key=KEY, delay=10), "delay"),
        (lambda: tasks.delayed_xor(10, key=KEY, hold=0), "hold"),
        (lambda: tasks.temporal_patterns(4, key=KEY, length=30), "length"),
        (lambda: tasks.temporal_patterns(4, key=KEY, f_low=0.2, f_high=0.1), "f_low"),
        (lambda: tasks.temporal_patterns(4, key=KEY, stretch=1.0), "stretch"),
        (lambda: tasks.temporal_patterns(4, key=KEY, jitter=-2), "jitter"),
    ],
)
def test_generators_reject_bad_arguments(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_task_container_checks_and_split():
    t = tasks.delayed_xor(50, key=KEY)
    with pytest.raises(ValueError, match="labels"):
        tasks.ClassificationTask(t.inputs, t.labels[:-1], 2, False, ("a", "b"), "x")
    with pytest.raises(ValueError, match="inputs"):
        tasks.ClassificationTask(t.inputs, t.labels, 2, True, ("a", "b"), "x")
    a, b = t.split(30)
    assert len(a) == 30 and len(b) == 20 and np.array_equal(b.inputs, t.inputs[30:])
    with pytest.raises(ValueError, match="`n`"):
        t.split(50)


# ------------------------------------------------------------------------------------------------------------
# Fitting on batches.


def test_batched_step_fit_equals_numpy_ridge_on_concatenated_states(esn):
    u = np.asarray(jax.random.normal(jax.random.key(2), (4, 30, 1)))
    labels = np.asarray(jax.random.randint(jax.random.key(3), (4, 30), 0, 3))
    washout, alpha = 6, 1e-3  # 24 steps: four Gram blocks of 6 steps x 4 sequences
    model = rc.fit_classifier(esn, u, labels, readout=rc.RidgeClassifier(alpha), washout=washout, chunk=24)
    Z = np.concatenate([np_states(esn, s)[washout:] for s in u])
    Y = np.concatenate([one_hot(lab[washout:], 3) for lab in labels])
    W, b = np_ridge(Z, Y, alpha)
    np.testing.assert_allclose(model.readout.weights, W, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(model.readout.bias, b, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(model.state, np_states(esn, u[-1])[-1], rtol=1e-12)
    # classify: every sequence from rest, argmax of W z + b per step
    pred = rc.classify(model, u)
    ref = np.array([np.argmax(np_states(esn, s) @ W.T + b, axis=1) for s in u])
    np.testing.assert_array_equal(pred, ref)


def test_ragged_list_equals_sequences_fitted_one_by_one(esn):
    lengths = (25, 40, 25)  # two groups of equal length, the last sequence in the first group
    seqs = [np.asarray(jax.random.normal(jax.random.key(10 + i), (n, 1))) for i, n in enumerate(lengths)]
    targets = [np.asarray(jax.random.normal(jax.random.key(20 + i), (n, 2))) for i, n in enumerate(lengths)]
    washout = 3
    model = fit_sequences(esn, seqs, targets, readout=rc.Ridge(1e-4), washout=washout)
    # one by one: each sequence's states from rest, the statistics summed by stacking the rows
    Z = np.concatenate([np_states(esn, s)[washout:] for s in seqs])
    Y = np.concatenate([y[washout:] for y in targets])
    W, b = np_ridge(Z, Y, 1e-4)
    np.testing.assert_allclose(model.readout.weights, W, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(model.readout.bias, b, rtol=1e-7, atol=1e-9)
    assert model.state.shape == (20,)
    np.testing.assert_allclose(model.state, np_states(esn, seqs[-1])[-1], rtol=1e-12)
    np.testing.assert_allclose(model.last_output, targets[-1][-1])


@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_per_sequence_pooling(esn, pooling):
    u = np.asarray(jax.random.normal(jax.random.key(4), (12, 15, 1)))
    labels = np.array([0, 1, 2] * 4)
    washout, alpha = 4, 1e-2
    model = rc.fit_classifier(esn, u, labels, readout=rc.RidgeClassifier(alpha, pooling), washout=washout)
    states = [np_states(esn, s) for s in u]
    Z = np.array([x[-1] if pooling == "last" else x[washout:].mean(0) for x in states])
    W, b = np_ridge(Z, one_hot(labels, 3), alpha)
    np.testing.assert_allclose(model.readout.weights, W, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(model.readout.bias, b, rtol=1e-7, atol=1e-9)
    assert model.readout.washout == washout
    if pooling == "last":
        pred = rc.classify(model, u[:5])
        np.testing.assert_array_equal(pred, np.argmax(Z[:5] @ W.T + b, axis=1))
    else:  # a ragged list (two length groups) goes through the same pooling, every sequence from rest
        pred = rc.classify(model, [*u[:5], u[1, :11]])
        z1 = np_states(esn, u[1, :11])[washout:].mean(0)
        np.testing.assert_array_equal(pred, np.argmax(np.vstack([Z[:5], z1]) @ W.T + b, axis=1))


class _NoisyLeak(rc.AbstractReservoir):
    """x' = 0.5 x + u + 0.1 xi: the smallest stochastic reservoir, to check the key plumbing."""

    gain: jax.Array
    in_size: int = eqx.field(static=True)

    def __init__(self):
        self.gain = jnp.asarray(0.5)
        self.in_size = 1

    def init_state(self):
        return jnp.zeros(3)

    def step(self, state, u, *, key=None):
        return self.gain * state + u[0] + 0.1 * jax.random.normal(key, (3,))

    def features(self, state):
        return jnp.tanh(state)

    @property
    def feature_size(self):
        return 3

    @property
    def stochastic(self):
        return True


def test_stochastic_reservoir_uses_one_key_per_sequence():
    res = _NoisyLeak()
    u = np.asarray(jax.random.normal(jax.random.key(6), (3, 12, 1)))
    y = np.asarray(jax.random.normal(jax.random.key(7), (3, 12, 1)))
    with pytest.raises(ValueError, match="key"):
        fit_sequences(res, u, y)
    k = jax.random.key(8)
    m = fit_sequences(res, u, y, key=k, readout=rc.Ridge(1e-3))
    # reference: sequence i draws its step-t noise from fold_in(fold_in(key, i), t), starting from rest
    rows = []
    for i, seq in enumerate(u):
        x = np.zeros(3)
        for t, ut in enumerate(seq):
            xi = np.asarray(jax.random.normal(jax.random.fold_in(jax.random.fold_in(k, i), t), (3,)))
            x = 0.5 * x + ut[0] + 0.1 * xi
            rows.append(np.tanh(x))
    Z = np.array(rows)
    W, b = np_ridge(Z, y.reshape(-1, 1), 1e-3)
    np.testing.assert_allclose(m.readout.weights, W, rtol=1e-7)
    m2 = fit_sequences(res, u, y, key=k, readout=rc.Ridge(1e-3))
    assert np.array_equal(m.readout.weights, m2.readout.weights)


def test_stream_fit_is_a_ridge_on_one_hot_targets(esn):
    t = tasks.sine_square(40, key=KEY)
    m = rc.fit_classifier(esn, t.inputs, t.labels, washout=10, readout=rc.RidgeClassifier(1e-5))
    X = np_states(esn, t.inputs)
    W, b = np_ridge(X[10:], one_hot(t.labels[10:], 2), 1e-5)
    np.testing.assert_allclose(m.readout.weights, W, rtol=1e-7, atol=1e-9)
    # a stream continues from the model's state, like `predict`; `reset()` starts from rest
    np.testing.assert_allclose(m.state, X[-1], rtol=1e-12)
    np.testing.assert_array_equal(rc.classify(m.reset(), t.inputs), np.argmax(X @ W.T + b, axis=1))
    # with a ridge path, the alpha is chosen as RidgeCV chooses it on the one-hot regression (holdout: last 20 %)
    alphas = (1e-8, 1e-4, 1.0, 1e4)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="RidgeCV chose the")  # an edge choice is fine here
        cv = rc.fit_classifier(esn, t.inputs, t.labels, washout=10, readout=rc.RidgeClassifier(alphas=alphas))
        ref = rc.fit(esn, t.inputs, one_hot(t.labels, 2), washout=10, readout=rc.RidgeCV(alphas))
    assert float(cv.readout.alpha) == float(ref.readout.alpha)
    np.testing.assert_allclose(cv.readout.weights, ref.readout.weights, rtol=1e-10)


# ------------------------------------------------------------------------------------------------------------
# Scores and the baseline.


def test_accuracy_and_confusion_matrix_against_numpy():
    rng = np.random.default_rng(0)
    a, p = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    assert float(rc.accuracy(a, p)) == pytest.approx(np.mean(a == p), abs=1e-15)
    ref = np.zeros((4, 4), int)
    for i, j in zip(a, p, strict=True):
        ref[i, j] += 1
    np.testing.assert_array_equal(rc.confusion_matrix(a, p, 4), ref)
    assert float(rc.accuracy([a[:50], a[50:]], [p[:50], p[50:]])) == pytest.approx(np.mean(a == p))
    with pytest.raises(ValueError, match="predicted"):
        rc.accuracy(a, p[:-1])
    with pytest.raises(ValueError, match="labels"):
        rc.confusion_matrix(a, p, 3)


def test_raw_input_baseline_is_a_ridge_on_the_input_window():
    train, test = tasks.sine_square(40, key=KEY).split(200)
    base = rc.raw_input_baseline(train, test, window=3, alpha=1e-6, washout=2)
    u = np.asarray(train.inputs[:, 0])
    Z = np.stack([u[2:], u[1:-1], u[:-2]], 1)  # [u(t), u(t-1), u(t-2)]
    W, b = np_ridge(Z, one_hot(train.labels[2:], 2), 1e-6)
    np.testing.assert_allclose(base.model.readout.weights, W, rtol=1e-6, atol=1e-9)
    v = np.concatenate([[0.0, 0.0], np.asarray(test.inputs[:, 0])])
    Zt = np.stack([v[2:], v[1:-1], v[:-2]], 1)
    pred = np.argmax(Zt @ W.T + b, axis=1)
    np.testing.assert_array_equal(base.predicted, pred)
    assert float(base.accuracy) == pytest.approx(np.mean(pred[2:] == np.asarray(test.labels[2:])))


# ------------------------------------------------------------------------------------------------------------
# Errors.


def test_bad_labels_and_batches_raise_named_errors(esn):
    u = np.zeros((3, 10, 1))
    with pytest.raises(ValueError, match="labels"):
        rc.fit_classifier(esn, u, np.zeros(4, int), readout=rc.RidgeClassifier(pooling="last"))
    with pytest.raises(ValueError, match="labels"):
        rc.fit_classifier(esn, u, np.zeros((3, 9), int))
    with pytest.raises(ValueError, match="labels"):
        rc.fit_classifier(esn, u, np.array([0, 1, -1]), readout=rc.RidgeClassifier(pooling="mean"))
    with pytest.raises(ValueError, match="labels"):
        rc.fit_classifier(esn, u, np.array([0, 1, 2]), readout=rc.RidgeClassifier(pooling="last"), n_classes=2)
    with pytest.raises(ValueError, match="labels"):
        rc.fit_classifier(esn, u, np.array([0.0, 0.5, 1.0]), readout=rc.RidgeClassifier(pooling="last"))
    with pytest.raises(ValueError, match="labels"):
        rc.fit_classifier(esn, np.zeros((10, 1)), np.zeros(11, int))
    with pytest.raises(ValueError, match=r"inputs\[1\]"):
        rc.fit_classifier(esn, [np.zeros((10, 1)), np.zeros((10, 2))], np.array([0, 1]))
    with pytest.raises(ValueError, match="inputs"):
        rc.fit_classifier(esn, np.zeros((3, 10, 2)), np.array([0, 1, 0]))
    with pytest.raises(ValueError, match="pooling"):
        rc.fit_classifier(esn, np.zeros((10, 1)), np.zeros(10, int), readout=rc.RidgeClassifier(pooling="last"))
    with pytest.raises(ValueError, match="targets"):
        fit_sequences(esn, [np.zeros((10, 1)), np.zeros((8, 1))], [np.zeros((10, 1)), np.zeros((9, 1))])
    with pytest.raises(ValueError, match="washout"):
        fit_sequences(esn, [np.zeros((10, 1)), np.zeros((8, 1))], [np.zeros((10, 1)), np.zeros((8, 1))], washout=8)
    with pytest.raises(ValueError, match="pooling"):
        rc.RidgeClassifier(pooling="max")
    with pytest.raises(ValueError, match="alpha"):
        rc.RidgeClassifier(-1.0)


# ------------------------------------------------------------------------------------------------------------
# The runner.


@pytest.fixture
def small_esn_entry():
    def build(in_size, units, gain, *, key, task):
        return rc.ESN(in_size, units, key=key, gain=gain, bias_scaling=0.2)

    _registry.register_reservoir("test-small-esn", build=build, units=40, gain=0.9, sweep_gains=(0.1, 2.0),
                                 description="a small ESN for the classification tests")
    yield "test-small-esn"
    _registry._REGISTRY.pop("test-small-esn", None)


def test_run_classify_esn_beats_the_raw_input_baseline_on_xor(small_esn_entry, tmp_path):
    # XOR is not linearly separable: a linear readout of the input window scores chance, a small ESN does not.
    r = run_classify("xor", substrate=small_esn_entry, seed=1)
    for k in ("task", "substrate", "units", "gain", "seed", "accuracy", "baseline_accuracy", "fit_seconds"):
        assert k in r
    assert (r["task"], r["substrate"], r["units"], r["gain"], r["seed"]) == ("xor", small_esn_entry, 40, 0.9, 1)
    assert np.sum(r["confusion"]) == r["n_test"] == 980
    assert np.trace(r["confusion"]) == round(r["accuracy"] * r["n_test"])
    assert r["accuracy"] > 0.9 > 0.6 > r["baseline_accuracy"]
    assert 0.5 <= r["chance"] < 0.6
    paths = plot_classification(r, tmp_path / "xor.png")
    assert paths[0].stat().st_size > 10_000
    with pytest.raises(ValueError, match="task"):
        run_classify("mackey-glass", substrate=small_esn_entry)
    with pytest.raises(ValueError, match="substrate"):
        run_classify("xor", substrate="no-such-reservoir")
