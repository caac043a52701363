#!/usr/bin/env python3
"""Writes the heart-risk example's data and trains its model offline (pure Python, no
dependencies; deterministic).

Outputs, next to this script:

* ``heart.csv``: the patient table ``id,age,sex,trestbps,target`` (sex 1 = male, trestbps =
  resting blood pressure in mm Hg, target 1 = at risk), 200 synthetic patients whose risk
  follows a logistic function of the three measurements plus noise;
* ``heart_model.json``: a ``json-linear`` logistic regression trained on the training rows
  (``id % 4 != 0``) by full-batch gradient descent on standardised inputs (the means and
  standard deviations of the training rows go into ``standardization``);
* the test rows are those with ``id % 4 == 0``: the example streams them with their labels
  held back and compares its predictions with the labels.

Run it from the repository root; it rewrites both files byte for byte:

    python3 examples/data/heart_risk.py
"""

import json
import math
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
FEATURES = ["age", "sex", "trestbps"]


def patients(n=200, seed=7):
    rng = random.Random(seed)
    rows = []
    for i in range(1, n + 1):
        age = rng.randint(29, 77)
        sex = rng.randint(0, 1)
        trestbps = rng.randint(94, 200)
        z = 0.09 * (age - 54) + 0.9 * (sex - 0.5) + 0.045 * (trestbps - 131) + rng.gauss(0.0, 0.8)
        target = 1 if z > 0 else 0
        rows.append({"id": i, "age": age, "sex": sex, "trestbps": trestbps, "target": target})
    return rows


def train(rows, epochs=3000, eta=0.5):
    xs = [[float(r[f]) for f in FEATURES] for r in rows]
    ys = [float(r["target"]) for r in rows]
    n = len(xs)
    mean = [sum(x[j] for x in xs) / n for j in range(len(FEATURES))]
    scale = [math.sqrt(sum((x[j] - mean[j]) ** 2 for x in xs) / n) for j in range(len(FEATURES))]
    zs = [[(x[j] - mean[j]) / scale[j] for j in range(len(FEATURES))] for x in xs]
    w = [0.0] * len(FEATURES)
    b = 0.0
    for _ in range(epochs):
        gw = [0.0] * len(FEATURES)
        gb = 0.0
        for z, y in zip(zs, ys):
            p = 1.0 / (1.0 + math.exp(-(b + sum(wj * zj for wj, zj in zip(w, z)))))
            for j in range(len(FEATURES)):
                gw[j] += (p - y) * z[j]
            gb += p - y
        w = [wj - eta * g / n for wj, g in zip(w, gw)]
        b -= eta * gb / n
    return {
        "format_version": 1,
        "model_type": "logistic",
        "features": FEATURES,
        "coefficients": w,
        "intercept": b,
        "standardization": {"mean": mean, "scale": scale},
        "classes": ["low-risk", "at-risk"],
        "metadata": {"trained_by": "examples/data/heart_risk.py", "training_rows": str(n)},
    }


def main():
    rows = patients()
    with open(os.path.join(HERE, "heart.csv"), "w") as f:
        f.write("id,age,sex,trestbps,target\n")
        for r in rows:
            f.write(f"{r['id']},{r['age']},{r['sex']},{r['trestbps']},{r['target']}\n")
    training = [r for r in rows if r["id"] % 4 != 0]
    with open(os.path.join(HERE, "heart_model.json"), "w") as f:
        json.dump(train(training), f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
