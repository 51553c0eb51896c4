"""The optimizer benchmark's peer: the same recommendation problems solved by SciPy's L-BFGS-B (bounded
quasi-Newton) on the same 16-64-64-1 network in NumPy with analytic gradients (backpropagation to the inputs), from
the same starts: cold (the current setpoints and the spread-out starts) and streaming (each machine re-optimized on
every reading from its previous answer, as Millstream does). Prints {"per_second", "mean_objective",
"stream_per_second", "stream_mean_objective"} on stdout.

Objective per machine, as Millstream's: J(s) = failure_cost * sum_k w_k sigmoid(net(scale(x_k(s)))), where x_k(s) is
scenario row k with each control input set to s_c + deviation_kc (or s_c * deviation_kc when relative) and w_k the
scenario's probability weight (they add up to 1)."""
import json
import sys
import time

import numpy as np
from scipy.optimize import minimize

spec = json.load(open(sys.argv[1]))
layers = []
for layer in spec["layers"]:
    units = layer["units"]
    kernel = np.array(layer["kernel"], dtype=np.float32)
    kernel = kernel.reshape(-1, units)  # inputs x units (Keras layout)
    layers.append((kernel, np.array(layer["bias"], dtype=np.float32)))
offsets = np.array(spec["offsets"], dtype=np.float32)
factors = np.array(spec["factors"], dtype=np.float32)
cost = float(spec["failure_cost"])
starts = int(spec["starts"])


def value_and_grad(x, weights):
    """Weighted mean risk over the rows of x (raw inputs) and its gradient with respect to each row's inputs."""
    h = (x - offsets) * factors
    activations = [h]
    for i, (w, b) in enumerate(layers):
        z = activations[-1] @ w + b
        a = 1 / (1 + np.exp(-z)) if i == len(layers) - 1 else np.maximum(z, 0)
        activations.append(a)
    risk = activations[-1][:, 0]
    g = (weights * risk * (1 - risk))[:, None]
    for i in range(len(layers) - 1, -1, -1):
        w, _ = layers[i]
        if i < len(layers) - 1:
            g = g * (activations[i + 1] > 0)
        g = g @ w.T
    return float(weights @ risk), g * factors


def solve(p, warm=None, explore=True):
    """The best value and point from the current setpoints, `warm` (a previous answer) if given, and unless
    `explore` is false, the spread-out starts."""
    rows = np.array(p["rows"], dtype=np.float32)
    dev = np.array(p["deviation"], dtype=np.float32)
    weights = np.array(p["weights"], dtype=np.float32)
    inputs = p["inputs"]
    relative = p["relative"]
    low = np.array(p["low"])
    high = np.array(p["high"])
    free = high > low

    def objective(s):
        x = rows.copy()
        for c, i in enumerate(inputs):
            if i >= 0:
                x[:, i] = s[c] * dev[:, c] if relative[c] else s[c] + dev[:, c]
        risk, g = value_and_grad(x, weights)
        grad = np.zeros(len(s))
        for c, i in enumerate(inputs):
            if i >= 0:
                grad[c] = (g[:, i] * (dev[:, c] if relative[c] else 1)).sum()
        return cost * float(risk), cost * grad

    current = np.array(p["current"], dtype=np.float64)
    points = [np.clip(current, low, high)]
    if warm is not None:
        points.append(np.clip(warm, low, high))
    if warm is None or explore:
        golden = 2.0
        d = len(current)
        for _ in range(30):
            golden = (1 + golden) ** (1 / (d + 1))
        alpha = [1 / golden ** (k + 1) for k in range(d)]
        for j in range(1, starts):
            u = np.array([(0.5 + alpha[k] * j) % 1 for k in range(d)])
            points.append(low + u * (high - low))
    best = None
    bounds = list(zip(low, high))
    for x0 in points:
        if not free.any():
            r = (objective(x0)[0], x0)
        else:
            res = minimize(objective, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                           options={"maxiter": 40, "ftol": 1e-9, "gtol": 1e-7})
            r = (float(res.fun), res.x)
        if best is None or r[0] < best[0]:
            best = r
    return best


def run_stream(problems):
    """Each machine re-optimized on every reading, from its previous answer and current setpoints, exploring the
    spread-out starts every `exploration_interval` searches (Millstream's policy)."""
    previous = {}
    values = []
    for p in problems:
        m = p["machine"]
        warm, searches = previous.get(m, (None, 0))
        explore = warm is None or searches + 1 >= interval
        value, point = solve(p, warm, explore)
        previous[m] = (point, 0 if explore else searches + 1)
        values.append(value)
    return values


interval = int(spec["exploration_interval"])
problems = spec["problems"]
for p in problems[:20]:
    solve(p)
started = time.perf_counter()
values = [solve(p)[0] for p in problems]
elapsed = time.perf_counter() - started
stream = spec["stream"]
started = time.perf_counter()
stream_values = run_stream(stream)
stream_elapsed = time.perf_counter() - started
print(json.dumps({
    "per_second": len(problems) / elapsed, "mean_objective": float(np.mean(values)),
    "stream_per_second": len(stream) / stream_elapsed, "stream_mean_objective": float(np.mean(stream_values)),
}))
