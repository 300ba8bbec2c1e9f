"""Scratch: tune PhotonicDelay on NARMA10 and find the gain range where the largest Lyapunov exponent crosses 0.

Run: nice -n 10 python benchmarks/scratch_photonic.py [narma|grid|edge|edge400|speed]

Results (float64, 2-core CPU; NARMA10 with 2000 training samples, washout 200, 1000 test, Ridge(1e-10), seeds 0-4):
- ikeda, desync=10, theta=2.5, gain=1.2, input_scaling=0.03, phi0=-0.5: NRMSE 0.0925 0.0888 0.1492 0.1114 0.1446,
  mean 0.1173.
- mackey_glass, desync=0, theta=0.2, gain=0.5, input_scaling=0.05, p=1 (the PROTOCOLS.md setting): mean 0.525;
  the synchronous loop (desync=0) never got below ~0.39 in grids over gain, input scaling, theta, p and phi0.
- edge400 (Mackey-Glass p=7, theta=0.2, gamma=0.05, N=400): lambda_max -0.69 at gain 0.5, -0.018 at 1.0,
  ~-0.001 at 1.4-1.6, +0.006 (driven) / +0.049 (autonomous) at 1.65, +0.13 at 1.7, +0.34 at 2.5.
"""

import sys
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import physical  # noqa: E402
import reservoirs as rc  # noqa: E402
import tasks  # noqa: E402

N_TRAIN, N_TEST, WASHOUT = 2000, 1000, 200


def narma_data(seed=0):
    u, y = tasks.narma10(N_TRAIN + N_TEST, key=jax.random.key(seed))
    return u, y


def narma_nrmse(res, alpha, seed=0):
    u, y = narma_data(seed)
    model = rc.fit(res, u[:N_TRAIN], y[:N_TRAIN], washout=WASHOUT, readout=rc.Ridge(alpha))
    yhat, _ = rc.predict(model, u[N_TRAIN:])
    return float(rc.nrmse(y[N_TRAIN:], yhat))


def speed():
    u, y = narma_data()
    res = physical.PhotonicDelay(1, 400, key=jax.random.key(0))
    for _ in range(2):
        t = time.perf_counter()
        rc.run(res, u)[1].block_until_ready()
        print(f"run 3000 x 400: {time.perf_counter() - t:.3f} s")


def grid():
    """sweep over (gain, input_scaling) with one-step NRMSE on the held-out part (sweep's own split)."""
    u, y = narma_data()
    res = physical.PhotonicDelay(1, 400, key=jax.random.key(0), theta=0.2, p=1.0)
    for alpha in (1e-8, 1e-6):
        r = rc.sweep(res, u, y, params={"gain": np.array([0.3, 0.5, 0.7, 0.9]),
                                         "input_scaling": np.array([0.02, 0.05, 0.1, 0.2, 0.5])},
                     test_fraction=N_TEST / (N_TRAIN + N_TEST), washout=WASHOUT, readout=rc.Ridge(alpha),
                     lyapunov=False, progress=False, batch_size=20)
        print("alpha", alpha)
        print(r.table(40))


def narma(seeds=(0, 1, 2, 3, 4)):
    """NARMA10 with 400 virtual nodes: the tuned configuration (desync 10, theta 1, gain 1.1) and the synchronous
    loop of Appeltant et al. 2011 (desync 0, theta 0.2) for comparison. Fresh mask key and data key per seed."""
    configs = [
        dict(nonlinearity="ikeda", desync=10, theta=2.5, gain=1.2, input_scaling=0.03, phi0=-0.5, alpha=1e-10),
        dict(nonlinearity="ikeda", desync=10, theta=2.5, gain=1.2, input_scaling=0.03, phi0=-0.5, alpha=1e-8),
        dict(nonlinearity="ikeda", desync=20, theta=2.5, gain=1.2, input_scaling=0.03, phi0=-0.5, alpha=1e-10),
        dict(nonlinearity="ikeda", desync=5, theta=2.5, gain=1.2, input_scaling=0.03, phi0=-0.5, alpha=1e-10),
        dict(nonlinearity="ikeda", desync=0, theta=2.5, gain=1.2, input_scaling=0.03, phi0=-0.5, alpha=1e-10),
        dict(nonlinearity="mackey_glass", desync=10, theta=0.5, gain=1.0, input_scaling=0.02, alpha=1e-10),
        dict(nonlinearity="mackey_glass", desync=0, theta=0.2, gain=0.5, input_scaling=0.05, alpha=1e-10),
    ]
    for cfg in configs:
        cfg = dict(cfg)
        alpha = cfg.pop("alpha")
        errs = []
        for s in seeds:
            res = physical.PhotonicDelay(1, 400, key=jax.random.key(100 + s), **cfg)
            errs.append(narma_nrmse(res, alpha, s))
        print(f"{cfg} alpha={alpha}: NARMA10 NRMSE per seed {np.round(errs, 4)}, mean {np.mean(errs):.4f}")


def edge(n_virtual=50, p=7.0, gains=None, input_scaling=0.05, theta=0.2):
    """Largest exponent vs gain: conditional (NARMA drive) and autonomous (zero input, started off zero)."""
    gains = np.linspace(0.2, 3.0, 15) if gains is None else gains
    u, y = narma_data()
    res = physical.PhotonicDelay(1, n_virtual, key=jax.random.key(0), p=p, input_scaling=input_scaling, theta=theta)
    x0 = 0.5 * jnp.ones(n_virtual) + 0.1 * jax.random.normal(jax.random.key(1), (n_virtual,))
    for g in gains:
        r = eqx_set(res, g)
        lam_d = float(rc.lyapunov_spectrum(r, u[:2000], washout=500)[0])
        lam_a = float(rc.lyapunov_spectrum(r, jnp.zeros((2000, 1)), washout=500, state=x0)[0])
        print(f"p={p} N={n_virtual} gain={g:.3f}: lambda_max driven {lam_d:+.4f}, autonomous {lam_a:+.4f}")


def eqx_set(res, g):
    import equinox as eqx

    return eqx.tree_at(lambda r: r.gain, res, jnp.asarray(g, res.gain.dtype))


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "narma"
    {"narma": narma, "grid": grid, "edge": edge, "speed": speed,
     "edge400": lambda: edge(400, gains=np.array([0.5, 1.0, 1.4, 1.5, 1.6, 1.65, 1.7, 1.75, 1.8, 2.0, 2.5]))}[what]()
