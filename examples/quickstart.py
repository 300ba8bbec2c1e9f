"""Forecast the Mackey-Glass series with an echo-state network (README example; run by the tests)."""
import jax

jax.config.update("jax_enable_x64", True)  # accuracy figures are measured in float64
import reservoirs as rc
import tasks

series = tasks.mackey_glass(3001, key=jax.random.key(0))  # tau = 17, one sample per time unit
x = series.values
esn = rc.ESN(1, 300, gain=1.0, leak=0.3, input_scaling=0.5, bias_scaling=0.2, key=jax.random.key(1))
model = rc.fit(esn, x[:2000], x[1:2001], readout=rc.Ridge(1e-9), washout=200)  # one-step targets
result = rc.forecast(model, 500)  # closed loop, continuing after x[2000]
truth = x[2001:2501]
print("NRMSE over 500 steps:", float(rc.nrmse(truth, result.outputs)))
vpt = rc.valid_prediction_time(truth, result.outputs, dt=series.dt, lyapunov_time=series.lyapunov_time)
print("valid prediction time:", float(vpt), "Lyapunov times")
