#!/usr/bin/env python3
"""Generate the model files and reference predictions used by the streams-ml tests.

Every model is trained with scikit-learn on small deterministic synthetic data (or on the
iris data set that scikit-learn ships), exported by a standard exporter, and scored by the
exporting side for a fixed set of inputs.  Each model file `X` gets a companion
`X.expected.json` holding those inputs and the reference outputs:

* json/   linear and logistic regression written in the json-linear document format
          (coefficients taken from the fitted scikit-learn estimators); reference values
          are scikit-learn's `predict` / `predict_proba`.
* pmml/   PMML 4.4 written by sklearn2pmml (JPMML-SkLearn, needs Java); reference values
          are scikit-learn's, cross-checked against the JPMML-Evaluator PMML engine.
* onnx/   ONNX written by skl2onnx; reference values are onnxruntime's outputs for the
          float32 inputs, cross-checked against scikit-learn.

Rerun (from the repository root):

    python3 -m venv /tmp/mlvenv
    /tmp/mlvenv/bin/pip install scikit-learn==1.9.0 sklearn2pmml==0.133.1 \
        jpmml-evaluator==0.16.0 skl2onnx==1.20.0 onnx==1.23.2 onnxruntime==1.31.1 pandas
    /tmp/mlvenv/bin/python streams-ml/testdata/generate.py

Arguments select parts (`json`, `pmml`, `onnx`, `handmade`; default all). The output is
deterministic for these versions except for the timestamps that sklearn2pmml writes into each
PMML header. `handmade` writes a hand-built ONNX tree regressor (scored by onnxruntime) and, under
`onnx/invalid/`, hand-built ONNX documents that a loader must reject.
"""

import json
import os
import sys

import numpy as np
import pandas as pd
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor, VotingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20240611
N_TRAIN = 300
N_REFERENCE = 25
NUMERIC = ["fld1", "fld2", "fld3", "fld4"]
CATEGORY_EFFECT = {"a": 0.0, "b": 1.25, "c": -2.0}


def out(*parts):
    path = os.path.join(HERE, *parts)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return path


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=1, sort_keys=False)
        f.write("\n")


def synthetic():
    """Four numeric fields fld1..fld4, one categorical fld5, a numeric and a binary target."""
    rng = np.random.default_rng(SEED)
    n = N_TRAIN + N_REFERENCE
    x = rng.normal(size=(n, 4)) * np.array([1.0, 2.0, 0.5, 3.0]) + np.array([0.0, 1.0, -1.0, 5.0])
    fld5 = rng.choice(["a", "b", "c"], size=n)
    effect = np.array([CATEGORY_EFFECT[v] for v in fld5])
    linear = 1.5 + x @ np.array([2.0, -1.0, 0.5, 0.25]) + effect
    y_reg = linear + rng.normal(scale=0.5, size=n)
    y_cls = np.where(linear - 3.0 + rng.logistic(scale=0.7, size=n) > 0, "yes", "no")
    df = pd.DataFrame(x, columns=NUMERIC)
    df["fld5"] = fld5
    return df, pd.Series(y_reg, name="y"), pd.Series(y_cls, name="y")


def iris():
    data = load_iris()
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    df = pd.DataFrame(data.data, columns=names)
    y = pd.Series(np.array(data.target_names)[data.target], name="species")
    # Every sixth row is held out for the reference predictions.
    ref = np.arange(len(df)) % 6 == 0
    return df[~ref].reset_index(drop=True), y[~ref].reset_index(drop=True), df[ref].reset_index(drop=True)


def rows(df):
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in df.to_dict("records")]


# ---------------------------------------------------------------------------------------------
# json-linear documents


def json_models(df, y_reg, y_cls):
    train, ref = df[NUMERIC][:N_TRAIN], df[NUMERIC][N_TRAIN:]

    lin = Pipeline([("scale", StandardScaler()), ("model", LinearRegression())]).fit(train, y_reg[:N_TRAIN])
    scaler, model = lin.named_steps["scale"], lin.named_steps["model"]
    write_json(out("json", "linear_regression.json"), {
        "format_version": 1,
        "model_type": "linear",
        "features": NUMERIC,
        "coefficients": model.coef_.tolist(),
        "intercept": float(model.intercept_),
        "standardization": {"mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist()},
    })
    write_json(out("json", "linear_regression.json.expected.json"), {
        "producer": "scikit-learn Pipeline(StandardScaler, LinearRegression).predict",
        "inputs": ref.to_numpy().tolist(),
        "feature_names": NUMERIC,
        "scores": lin.predict(ref).tolist(),
    })

    y01 = (y_cls == "yes").astype(int)
    log = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(C=10.0))]).fit(train, y01[:N_TRAIN])
    scaler, model = log.named_steps["scale"], log.named_steps["model"]
    write_json(out("json", "logistic_regression.json"), {
        "format_version": 1,
        "model_type": "logistic",
        "features": NUMERIC,
        "coefficients": model.coef_[0].tolist(),
        "intercept": float(model.intercept_[0]),
        "standardization": {"mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist()},
        "classes": ["0", "1"],
    })
    write_json(out("json", "logistic_regression.json.expected.json"), {
        "producer": "scikit-learn Pipeline(StandardScaler, LogisticRegression).predict_proba",
        "inputs": ref.to_numpy().tolist(),
        "feature_names": NUMERIC,
        "labels": [str(v) for v in log.predict(ref)],
        "classes": ["0", "1"],
        "probabilities": log.predict_proba(ref).tolist(),
    })

    # Unstandardised model with no "standardization" and no "classes" (defaults apply).
    raw = LogisticRegression(C=1.0).fit(train, y01[:N_TRAIN])
    write_json(out("json", "logistic_plain.json"), {
        "model_type": "logistic",
        "features": NUMERIC,
        "coefficients": raw.coef_[0].tolist(),
        "intercept": float(raw.intercept_[0]),
    })
    write_json(out("json", "logistic_plain.json.expected.json"), {
        "producer": "scikit-learn LogisticRegression.predict_proba",
        "inputs": ref.to_numpy().tolist(),
        "feature_names": NUMERIC,
        "labels": [str(v) for v in raw.predict(ref)],
        "classes": ["0", "1"],
        "probabilities": raw.predict_proba(ref).tolist(),
    })


# ---------------------------------------------------------------------------------------------
# PMML via sklearn2pmml, checked with JPMML-Evaluator


def pmml_models(df, y_reg, y_cls):
    from jpmml_evaluator import make_evaluator
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder
    from sklearn2pmml import sklearn2pmml
    from sklearn2pmml.pipeline import PMMLPipeline

    def mixed_columns():
        return ColumnTransformer([("num", "passthrough", NUMERIC), ("cat", OneHotEncoder(), ["fld5"])])

    # Tree thresholds are float32 in scikit-learn; float32 inputs make the exported fields
    # dataType="float" so that every evaluator compares the same values.
    df32 = df.copy()
    for c in NUMERIC:
        df32[c] = df32[c].astype(np.float32)

    def export(name, pipeline, train_x, train_y, ref_x, classification):
        pipeline.fit(train_x, train_y)
        path = out("pmml", name + ".pmml")
        sklearn2pmml(pipeline, path)
        evaluator = make_evaluator(path).verify()
        jpmml = evaluator.evaluateAll(ref_x)
        expected = {
            "producer": "scikit-learn %s, cross-checked with JPMML-Evaluator" % type(pipeline.steps[-1][1]).__name__,
            "inputs": rows(ref_x),
        }
        if classification:
            classes = [str(c) for c in pipeline.classes_]
            labels = [str(v) for v in pipeline.predict(ref_x)]
            expected["labels"] = labels
            expected["classes"] = classes
            if hasattr(pipeline, "predict_proba") and getattr(pipeline.steps[-1][1], "voting", "soft") != "hard":
                proba = pipeline.predict_proba(ref_x)
                expected["probabilities"] = proba.tolist()
                jp = jpmml[["probability(%s)" % c for c in classes]].to_numpy()
                assert np.allclose(jp, proba, rtol=0, atol=1e-12), (name, np.abs(jp - proba).max())
            target = [c for c in jpmml.columns if not c.startswith("probability(")][0]
            assert [str(v) for v in jpmml[target]] == labels, name
        else:
            scores = pipeline.predict(ref_x)
            expected["scores"] = scores.tolist()
            assert np.allclose(jpmml.iloc[:, 0].to_numpy(), scores, rtol=0, atol=1e-12), name
        write_json(path + ".expected.json", expected)

    tr, rf = slice(0, N_TRAIN), slice(N_TRAIN, None)
    export("linear_regression", PMMLPipeline([("ct", mixed_columns()), ("model", LinearRegression())]),
           df[tr], y_reg[tr], df[rf], False)
    export("logistic_regression", PMMLPipeline([("ct", mixed_columns()), ("model", LogisticRegression(C=10.0))]),
           df[tr], y_cls[tr], df[rf], True)
    export("tree_classifier", PMMLPipeline([("ct", mixed_columns()),
                                            ("model", DecisionTreeClassifier(max_depth=4, random_state=1))]),
           df32[tr], y_cls[tr], df32[rf], True)
    export("tree_regressor", PMMLPipeline([("ct", mixed_columns()),
                                           ("model", DecisionTreeRegressor(max_depth=4, random_state=1))]),
           df32[tr], y_reg[tr], df32[rf], False)
    export("forest_regressor", PMMLPipeline([("ct", mixed_columns()),
                                             ("model", RandomForestRegressor(n_estimators=5, max_depth=3,
                                                                             random_state=1))]),
           df32[tr], y_reg[tr], df32[rf], False)

    x, y, ref = iris()
    x32, ref32 = x.astype(np.float32), ref.astype(np.float32)
    export("iris_logistic", PMMLPipeline([("model", LogisticRegression(max_iter=1000))]), x, y, ref, True)
    export("iris_tree", PMMLPipeline([("model", DecisionTreeClassifier(max_depth=3, random_state=1))]),
           x32, y, ref32, True)
    export("iris_forest", PMMLPipeline([("model", RandomForestClassifier(n_estimators=5, max_depth=3,
                                                                         random_state=1))]),
           x32, y, ref32, True)
    export("iris_vote", PMMLPipeline([("model", VotingClassifier(
        [("t%d" % i, DecisionTreeClassifier(max_depth=2, max_features=2, random_state=i)) for i in range(3)],
        voting="hard"))]), x32, y, ref32, True)


# ---------------------------------------------------------------------------------------------
# ONNX via skl2onnx, scored with onnxruntime


def onnx_models(df, y_reg, y_cls):
    import onnxruntime as ort
    from skl2onnx import to_onnx

    opsets = {"": 17, "ai.onnx.ml": 3}

    def export(name, model, train_x, train_y, ref_x, classification, options=None, feature_names=None):
        model.fit(train_x, train_y)
        onx = to_onnx(model, train_x[:1], target_opset=opsets, options=options)
        if feature_names:
            entry = onx.metadata_props.add()
            entry.key, entry.value = "feature_names", ",".join(feature_names)
        path = out("onnx", name + ".onnx")
        with open(path, "wb") as f:
            f.write(onx.SerializeToString())
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        got = sess.run(None, {sess.get_inputs()[0].name: ref_x})
        expected = {"producer": "onnxruntime %s on a skl2onnx export of scikit-learn %s"
                    % (ort.__version__, type(model).__name__),
                    "inputs": ref_x.astype(np.float64).tolist()}
        if classification:
            classes = [str(c) for c in model.classes_]
            proba = got[1]
            if isinstance(proba, list):  # ZipMap output: a list of {label: probability}
                proba = np.array([[row[c] for c in model.classes_] for row in proba])
            expected["labels"] = [str(v) for v in got[0]]
            expected["classes"] = classes
            expected["probabilities"] = np.asarray(proba, dtype=np.float64).tolist()
            assert expected["labels"] == [str(v) for v in model.predict(ref_x)], name
            assert np.allclose(proba, model.predict_proba(ref_x), atol=1e-5), name
        else:
            scores = np.asarray(got[0], dtype=np.float64).reshape(-1)
            expected["scores"] = scores.tolist()
            assert np.allclose(scores, model.predict(ref_x), atol=1e-4), name
        write_json(path + ".expected.json", expected)

    x = df[NUMERIC].to_numpy(dtype=np.float32)
    tr, rf = slice(0, N_TRAIN), slice(N_TRAIN, None)
    y01 = (y_cls == "yes").astype(np.int64).to_numpy()
    names = {"feature_names": NUMERIC}
    export("linear_regression", LinearRegression(), x[tr], y_reg[tr].to_numpy(), x[rf], False, **names)
    # Default converter options: the probabilities go through a ZipMap.
    export("logistic_regression", LogisticRegression(C=10.0), x[tr], y01[tr], x[rf], True, **names)
    export("tree_regressor", DecisionTreeRegressor(max_depth=4, random_state=1), x[tr], y_reg[tr].to_numpy(),
           x[rf], False, **names)
    export("mlp_regressor", MLPRegressor(hidden_layer_sizes=(8, 4), max_iter=2000, random_state=1),
           x[tr], y_reg[tr].to_numpy(), x[rf], False, **names)

    ix, iy, iref = iris()
    ix, iref = ix.to_numpy(dtype=np.float32), iref.to_numpy(dtype=np.float32)
    no_zipmap = {"zipmap": False}
    export("iris_tree", DecisionTreeClassifier(max_depth=3, random_state=1), ix, iy.to_numpy(), iref, True,
           {DecisionTreeClassifier: no_zipmap})
    export("iris_forest", RandomForestClassifier(n_estimators=5, max_depth=3, random_state=1), ix,
           iy.to_numpy(), iref, True, {RandomForestClassifier: no_zipmap})
    export("iris_logistic", LogisticRegression(max_iter=1000), ix, iy.to_numpy(), iref, True,
           {LogisticRegression: no_zipmap})
    export("iris_mlp", MLPClassifier(hidden_layer_sizes=(10,), max_iter=3000, random_state=1), ix,
           iy.to_numpy(), iref, True, {MLPClassifier: no_zipmap})


# ---------------------------------------------------------------------------------------------
# Handmade ONNX tree ensembles: one valid (scored by onnxruntime), and invalid ones that a loader
# must reject without crashing.


def tree_ensemble_graph(name, op, attributes, n_outputs, inputs=1, extra_initializers=()):
    from onnx import TensorProto, helper

    ml = "ai.onnx.ml"
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 2])
    graph_inputs = [x] + [helper.make_tensor_value_info("X%d" % i, TensorProto.FLOAT, [None, 2])
                          for i in range(1, inputs)]
    if op == "TreeEnsembleRegressor":
        outputs = [helper.make_tensor_value_info("variable", TensorProto.FLOAT, [None, n_outputs])]
        node = helper.make_node(op, ["X"], ["variable"], domain=ml, **attributes)
    else:
        outputs = [helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
                   helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, n_outputs])]
        node = helper.make_node(op, ["X"], ["label", "probabilities"], domain=ml, **attributes)
    graph = helper.make_graph([node], name, graph_inputs, outputs, initializer=list(extra_initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(ml, 3)])
    model.ir_version = 8
    return model


def small_tree(**overrides):
    """Two trees over two features; tree 0 splits on x0, tree 1 on x1."""
    attributes = dict(
        nodes_treeids=[0, 0, 0, 1, 1, 1],
        nodes_nodeids=[0, 1, 2, 0, 1, 2],
        nodes_featureids=[0, 0, 0, 1, 0, 0],
        nodes_modes=["BRANCH_LEQ", "LEAF", "LEAF", "BRANCH_LT", "LEAF", "LEAF"],
        nodes_values=[0.5, 0.0, 0.0, -1.25, 0.0, 0.0],
        nodes_truenodeids=[1, 0, 0, 1, 0, 0],
        nodes_falsenodeids=[2, 0, 0, 2, 0, 0],
    )
    attributes.update(overrides)
    return attributes


def handmade_onnx():
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    # Valid: two targets, averaged over the trees, plus base values.
    regressor = small_tree(
        n_targets=2, aggregate_function="AVERAGE", base_values=[10.0, -10.0],
        target_treeids=[0, 0, 0, 0, 1, 1, 1, 1], target_nodeids=[1, 1, 2, 2, 1, 1, 2, 2],
        target_ids=[0, 1, 0, 1, 0, 1, 0, 1], target_weights=[1.0, 2.0, 3.0, 4.0, 0.5, 0.25, 8.0, 16.0])
    model = tree_ensemble_graph("regressor2", "TreeEnsembleRegressor", regressor, 2)
    onnx.checker.check_model(model)
    path = out("onnx", "handmade_tree_regressor2.onnx")
    onnx.save(model, path)
    inputs = np.array([[0.0, -2.0], [0.0, 0.0], [1.0, -2.0], [1.0, 3.0], [0.5, -1.25], [0.25, 7.5]],
                      dtype=np.float32)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    vectors = sess.run(None, {"X": inputs})[0]
    write_json(path + ".expected.json", {
        "producer": "onnxruntime %s on a handmade TreeEnsembleRegressor" % ort.__version__,
        "inputs": inputs.astype(np.float64).tolist(),
        "vectors": np.asarray(vectors, dtype=np.float64).tolist(),
    })

    classifier = dict(classlabels_int64s=[0, 1, 2],
                      class_treeids=[0, 0, 1, 1], class_nodeids=[1, 2, 1, 2],
                      class_ids=[0, 1, 1, 2], class_weights=[1.0, 1.0, 1.0, 1.0])
    invalid = {
        "cycle": small_tree(nodes_truenodeids=[1, 0, 0, 0, 0, 0], **classifier),
        "child_out_of_range": small_tree(nodes_falsenodeids=[2, 0, 0, 9, 0, 0], **classifier),
        "class_out_of_range": small_tree(**dict(classifier, class_ids=[0, 1, 1, 7])),
        "duplicate_node": small_tree(nodes_nodeids=[0, 1, 1, 0, 1, 2], **classifier),
        "leaf_on_branch": small_tree(**dict(classifier, class_nodeids=[0, 2, 1, 2])),
        "gte_mode": small_tree(nodes_modes=["BRANCH_GTE", "LEAF", "LEAF", "BRANCH_LT", "LEAF", "LEAF"],
                               **classifier),
        "length_mismatch": small_tree(nodes_values=[0.5, 0.0], **classifier),
        "negative_feature": small_tree(nodes_featureids=[0, 0, 0, -3, 0, 0], **classifier),
    }
    for name, attributes in invalid.items():
        model = tree_ensemble_graph(name, "TreeEnsembleClassifier", attributes, 3)
        onnx.save(model, out("onnx", "invalid", name + ".onnx"))

    regressor_min = dict(regressor, aggregate_function="MIN")
    onnx.save(tree_ensemble_graph("min", "TreeEnsembleRegressor", regressor_min, 2),
              out("onnx", "invalid", "regressor_min.onnx"))
    onnx.save(tree_ensemble_graph("two_inputs", "TreeEnsembleRegressor", regressor, 2, inputs=2),
              out("onnx", "invalid", "two_inputs.onnx"))

    external = helper.make_tensor("unused", TensorProto.FLOAT, [4], [0.0, 0.0, 0.0, 0.0])
    external.data_location = TensorProto.EXTERNAL
    del external.float_data[:]
    entry = external.external_data.add()
    entry.key, entry.value = "location", "/etc/passwd"
    onnx.save(tree_ensemble_graph("external", "TreeEnsembleRegressor", regressor, 2,
                                  extra_initializers=[external]),
              out("onnx", "invalid", "external_data.onnx"))

    short = helper.make_tensor("short", TensorProto.FLOAT, [3], np.zeros(3, dtype=np.float32).tobytes(), raw=True)
    short.dims[:] = [1000, 1000]
    onnx.save(tree_ensemble_graph("short", "TreeEnsembleRegressor", regressor, 2, extra_initializers=[short]),
              out("onnx", "invalid", "short_raw_data.onnx"))

    dangling = tree_ensemble_graph("dangling", "TreeEnsembleRegressor", regressor, 2)
    dangling.graph.output[0].name = "nowhere"
    onnx.save(dangling, out("onnx", "invalid", "undefined_output.onnx"))


def main():
    # Optional arguments pick parts: json, pmml, onnx, handmade (default: all).
    parts = set(sys.argv[1:]) or {"json", "pmml", "onnx", "handmade"}
    df, y_reg, y_cls = synthetic()
    if "json" in parts:
        json_models(df, y_reg, y_cls)
    if "pmml" in parts:
        pmml_models(df, y_reg, y_cls)
    if "onnx" in parts:
        onnx_models(df, y_reg, y_cls)
    if "handmade" in parts:
        handmade_onnx()


if __name__ == "__main__":
    main()
