"""Forecast the Mackey-Glass series with an echo-state network (README example; run by the tests)."""
import jax

jax.config.update("jax_enable_x64", True)  # accuracy figures are measured in float64
import reservoirs as rc
import tasks

series = tasks.mackey_glass(4001, key=jax.random.key(0))  # tau = 17, one sample per time unit
x, lt = series.values, round(series.lyapunov_time / series.dt)  # one Lyapunov time = lt samples
reservoir = rc.ESN(1, 300, gain=1.0, leak=0.3, input_scaling=0.5, bias_scaling=0.2, key=jax.random.key(1))
readout = rc.Ridge(1e-9)
# reservoir, readout, *_ = rc.preset("photonic", key=jax.random.key(1))  # one-line swap to a physical substrate
model = rc.fit(reservoir, x[:2000], x[1:2001], readout=readout, washout=200)  # one-step targets
result = rc.forecast(model, 1500)  # closed loop after x[2000], 1500 steps = 7.8 Lyapunov times
truth = x[2001:3501]
print("NRMSE over the first Lyapunov time:", float(rc.nrmse(truth[:lt], result.outputs[:lt])))
vpt = rc.valid_prediction_time(truth, result.outputs, dt=series.dt, lyapunov_time=series.lyapunov_time,
                               return_capped=True)
print("valid prediction time:", float(vpt.value), "Lyapunov times", "(lower bound: horizon)" * bool(vpt.capped))
