#!/usr/bin/env python3
"""Writes the ONNX fixtures of crates/galley-onnx: small models plus what onnxruntime answers.

For every model NAME this writes, into crates/galley-onnx/tests/fixtures/:
  NAME.onnx  the model, exported with the converter's default options (skl2onnx for
             scikit-learn, torch.onnx.export for PyTorch, onnx.helper for hand-built graphs);
  NAME.json  the expected signature, a few input rows, and the outputs onnxruntime produced for
             them, so the Rust tests need no Python.

The fixtures are committed; CI does not run this script. Run it again only to change them:

  python3 -m venv /tmp/onnx-fixtures-venv   # outside the repository
  /tmp/onnx-fixtures-venv/bin/pip install scikit-learn skl2onnx onnxruntime onnx numpy pandas \
      torch onnxscript
  /tmp/onnx-fixtures-venv/bin/python scripts/make_onnx_fixtures.py

(onnxscript is what torch's default exporter needs.) Generated with Python 3.11, scikit-learn
1.9.1, skl2onnx 1.20.0, onnx 1.23.2, onnxruntime 1.32.0, numpy 2.4.6, pandas 3.1.1, torch 2.15.0
and onnxscript 0.7.2 (every NAME.json records them too); the output is byte-for-byte the same
from one run to the next.

Every model is trained on a fixed seed and kept small (few trees, shallow depth), so every file
stays well under 200 KB. JSON cannot hold NaN or infinities: such floats are written as the
strings "NaN", "Infinity" and "-Infinity".
"""

import json
import math
import os
import pathlib
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import sklearn
import skl2onnx
from onnx import TensorProto, helper
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelEncoder, Normalizer, OneHotEncoder, StandardScaler
from sklearn.svm import SVC

OUT = pathlib.Path(__file__).resolve().parent.parent / "crates/galley-onnx/tests/fixtures"
SEED = 7
MAX_BYTES = 200 * 1024

ONNX_TO_V2 = {
    TensorProto.BOOL: "BOOL",
    TensorProto.INT8: "INT8",
    TensorProto.INT16: "INT16",
    TensorProto.INT32: "INT32",
    TensorProto.INT64: "INT64",
    TensorProto.UINT8: "UINT8",
    TensorProto.UINT16: "UINT16",
    TensorProto.UINT32: "UINT32",
    TensorProto.UINT64: "UINT64",
    TensorProto.FLOAT: "FP32",
    TensorProto.DOUBLE: "FP64",
    TensorProto.STRING: "BYTES",
}


def versions():
    import onnxscript
    import torch

    return {
        "python": sys.version.split()[0],
        "scikit-learn": sklearn.__version__,
        "skl2onnx": skl2onnx.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": ort.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "torch": torch.__version__,
        "onnxscript": onnxscript.__version__,
    }


def json_value(v):
    """One element, as JSON can hold it (NaN and infinities become strings)."""
    if isinstance(v, (bytes, np.bytes_)):
        return v.decode("utf-8")
    if isinstance(v, str):
        return v
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    f = float(v)
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "Infinity" if f > 0 else "-Infinity"
    return f


def tensor_json(name, datatype, array):
    array = np.asarray(array)
    return {
        "name": name,
        "datatype": datatype,
        "shape": list(array.shape),
        "data": [json_value(v) for v in array.reshape(-1).tolist()],
    }


def v2_type(array):
    if array.dtype.kind in ("U", "O", "S"):
        return "BYTES"
    return {
        "bool": "BOOL",
        "int8": "INT8",
        "int16": "INT16",
        "int32": "INT32",
        "int64": "INT64",
        "uint8": "UINT8",
        "uint16": "UINT16",
        "uint32": "UINT32",
        "uint64": "UINT64",
        "float32": "FP32",
        "float64": "FP64",
    }[array.dtype.name]


def zipmap_labels(model, output_name):
    """Class labels of the ZipMap node producing output_name, or None."""
    for node in model.graph.node:
        if node.op_type == "ZipMap" and output_name in node.output:
            for attr in node.attribute:
                if attr.name == "classlabels_int64s":
                    return list(attr.ints)
                if attr.name == "classlabels_strings":
                    return [s.decode("utf-8") for s in attr.strings]
    return None


def expected_signature(model):
    """The signature galley-onnx must report: what the graph declares, where a ZipMap output
    (a sequence of maps) is the FP32 [N, C] probability tensor galley-onnx returns instead."""
    initializers = {i.name for i in model.graph.initializer}

    def dims(tensor_type):
        return [d.dim_value if d.HasField("dim_value") else None for d in tensor_type.shape.dim]

    def spec(value_info):
        t = value_info.type
        if t.HasField("tensor_type"):
            return {
                "name": value_info.name,
                "dtype": ONNX_TO_V2[t.tensor_type.elem_type],
                "shape": dims(t.tensor_type),
            }
        labels = zipmap_labels(model, value_info.name)
        assert labels is not None, f"{value_info.name} is neither a tensor nor a ZipMap output"
        return {"name": value_info.name, "dtype": "FP32", "shape": [None, len(labels)]}

    return {
        "inputs": [spec(i) for i in model.graph.input if i.name not in initializers],
        "outputs": [spec(o) for o in model.graph.output],
    }


def write_fixture(name, model, feeds, description):
    """Runs feeds through onnxruntime and writes NAME.onnx and NAME.json."""
    data = model.SerializeToString()
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    results = session.run(None, feeds)
    outputs = []
    for meta, value in zip(session.get_outputs(), results):
        labels = zipmap_labels(model, meta.name)
        if labels is not None:
            # onnxruntime gives one {label: probability} map per row; galley-onnx gives the
            # [N, C] matrix whose columns follow the ZipMap's label order.
            value = np.array([[row[label] for label in labels] for row in value], dtype=np.float32)
        value = np.asarray(value)
        outputs.append(tensor_json(meta.name, v2_type(value), value))
    inputs = [tensor_json(k, v2_type(np.asarray(v)), v) for k, v in feeds.items()]
    ops = sorted({(n.domain or "ai.onnx", n.op_type) for n in model.graph.node})
    doc = {
        "model": f"{name}.onnx",
        "description": description,
        "generated_with": versions(),
        "operators": [f"{d}:{op}" for d, op in ops],
        "signature": expected_signature(model),
        "inputs": inputs,
        "outputs": outputs,
    }
    text = json.dumps(doc, indent=1)
    for path, content in ((OUT / f"{name}.onnx", data), (OUT / f"{name}.json", text.encode())):
        assert len(content) < MAX_BYTES, f"{path} is {len(content)} bytes"
        path.write_bytes(content)
    print(f"{name}: {len(data)} bytes, ops {doc['operators']}")


def f32(x):
    return np.ascontiguousarray(x, dtype=np.float32)


def rows(x, n, seed=SEED):
    """n rows of x, picked on a fixed seed so several classes show up."""
    rng = np.random.RandomState(seed)
    return f32(x[rng.choice(len(x), size=n, replace=False)])


def sklearn_fixture(name, model, x_train, y_train, x_rows, description):
    model.fit(x_train, y_train)
    onx = to_onnx(model, f32(x_train[:1]))
    input_name = onx.graph.input[0].name
    write_fixture(name, onx, {input_name: f32(x_rows)}, description)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    iris_x, iris_y = load_iris(return_X_y=True)
    cancer_x, cancer_y = load_breast_cancer(return_X_y=True)
    diabetes_x, diabetes_y = load_diabetes(return_X_y=True)

    # 1. Multiclass logistic regression.
    sklearn_fixture(
        "logistic_regression_iris",
        LogisticRegression(max_iter=500, random_state=SEED),
        iris_x,
        iris_y,
        rows(iris_x, 8),
        "LogisticRegression, 3 classes (iris)",
    )
    # 2. Random forest, multiclass.
    sklearn_fixture(
        "random_forest_classifier_iris",
        RandomForestClassifier(n_estimators=4, max_depth=3, random_state=SEED),
        iris_x,
        iris_y,
        rows(iris_x, 8),
        "RandomForestClassifier, 4 trees of depth 3, 3 classes (iris)",
    )
    # 3. Gradient boosting, binary and multiclass.
    sklearn_fixture(
        "gradient_boosting_classifier_binary",
        GradientBoostingClassifier(n_estimators=6, max_depth=2, random_state=SEED),
        cancer_x,
        cancer_y,
        rows(cancer_x, 8),
        "GradientBoostingClassifier, 6 trees of depth 2, 2 classes (breast cancer)",
    )
    sklearn_fixture(
        "gradient_boosting_classifier_multiclass",
        GradientBoostingClassifier(n_estimators=4, max_depth=2, random_state=SEED),
        iris_x,
        iris_y,
        rows(iris_x, 8),
        "GradientBoostingClassifier, 4 rounds of depth 2, 3 classes (iris)",
    )
    # 4. Random forest regressor.
    sklearn_fixture(
        "random_forest_regressor",
        RandomForestRegressor(n_estimators=4, max_depth=3, random_state=SEED),
        diabetes_x,
        diabetes_y,
        rows(diabetes_x, 8),
        "RandomForestRegressor, 4 trees of depth 3 (diabetes)",
    )
    # 5. Gradient boosting regressor.
    sklearn_fixture(
        "gradient_boosting_regressor",
        GradientBoostingRegressor(n_estimators=8, max_depth=2, random_state=SEED),
        diabetes_x,
        diabetes_y,
        rows(diabetes_x, 8),
        "GradientBoostingRegressor, 8 trees of depth 2 (diabetes)",
    )
    # 6. Scaler + logistic regression, binary (the LinearClassifier binary layout).
    sklearn_fixture(
        "scaler_logistic_regression_binary",
        Pipeline(
            [
                ("scale", StandardScaler()),
                ("clf", LogisticRegression(max_iter=500, random_state=SEED)),
            ]
        ),
        cancer_x,
        cancer_y,
        rows(cancer_x, 8),
        "Pipeline(StandardScaler, LogisticRegression), 2 classes (breast cancer)",
    )
    column_transformer_fixture()
    # 8. Linear regression, and a Normalizer in front of a model (plus the other two norms alone).
    sklearn_fixture(
        "linear_regression",
        LinearRegression(),
        diabetes_x,
        diabetes_y,
        rows(diabetes_x, 8),
        "LinearRegression (diabetes)",
    )
    sklearn_fixture(
        "normalizer_pipeline",
        Pipeline(
            [
                ("norm", Normalizer(norm="l2")),
                ("clf", LogisticRegression(max_iter=500, random_state=SEED)),
            ]
        ),
        iris_x,
        iris_y,
        rows(iris_x, 8),
        "Pipeline(Normalizer(l2), LogisticRegression), 3 classes (iris)",
    )
    signed = f32(np.random.RandomState(SEED).normal(size=(6, 4)))
    signed[5] = 0.0  # a zero row: the norm must not divide by zero
    signed[4] = -np.abs(signed[4])  # an all-negative row: MAX uses the largest value
    for norm in ("l1", "max"):
        model = Normalizer(norm=norm).fit(signed)
        write_fixture(
            f"normalizer_{norm}",
            to_onnx(model, signed[:1]),
            {"X": signed},
            f"Normalizer({norm}) alone, on signed data with a zero row",
        )
    # 9. LabelEncoder on its own (strings to indices), plus the other key/value types.
    label_encoder_fixture()
    onnx_ml_misc_fixture()
    # An operator galley-onnx does not implement: the tests check loading names it.
    sklearn_fixture(
        "unsupported_svm_classifier",
        SVC(random_state=SEED),
        iris_x,
        iris_y,
        rows(iris_x, 4),
        "SVC, exported as SVMClassifier, which galley-onnx does not implement",
    )
    # The tree operators' corner cases (aggregates, post transforms, branch modes, missing
    # values, the binary classifier layouts), which sklearn's exports reach only in part.
    tree_ensemble_variants_fixture()
    # 10. A PyTorch MLP with a dynamic batch axis, from both of torch's exporters.
    torch_mlp_fixture(iris_x)


def column_transformer_fixture():
    """7. Numeric columns with missing values (impute + scale), a string column (one-hot)."""
    rng = np.random.RandomState(SEED)
    n = 120
    colors = np.array(["red", "green", "blue"])
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 12, n).astype(np.float32),
            "income": rng.normal(50, 15, n).astype(np.float32),
            "color": colors[rng.randint(0, 3, n)],
        }
    )
    target = ((frame["age"] > 40) ^ (frame["color"] == "red")).astype(np.int64)
    frame.loc[rng.choice(n, 15, replace=False), "age"] = np.nan
    frame.loc[rng.choice(n, 15, replace=False), "income"] = np.nan
    model = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        (
                            "num",
                            Pipeline(
                                [
                                    ("impute", SimpleImputer(strategy="median")),
                                    ("scale", StandardScaler()),
                                ]
                            ),
                            ["age", "income"],
                        ),
                        ("cat", OneHotEncoder(handle_unknown="ignore"), ["color"]),
                    ]
                ),
            ),
            ("clf", RandomForestClassifier(n_estimators=3, max_depth=3, random_state=SEED)),
        ]
    )
    model.fit(frame, target)
    onx = to_onnx(
        model,
        initial_types=[
            ("age", FloatTensorType([None, 1])),
            ("income", FloatTensorType([None, 1])),
            ("color", StringTensorType([None, 1])),
        ],
    )
    age = f32([[25.0], [np.nan], [61.0], [40.5], [33.0], [np.nan]])
    income = f32([[30.0], [70.0], [np.nan], [52.0], [45.0], [np.nan]])
    # "purple" was never seen in training: handle_unknown="ignore" makes it all zeros.
    color = np.array([["red"], ["green"], ["blue"], ["purple"], ["green"], ["red"]], dtype=object)
    write_fixture(
        "column_transformer",
        onx,
        {"age": age, "income": income, "color": color},
        "Pipeline(ColumnTransformer(SimpleImputer+StandardScaler on age/income, "
        "OneHotEncoder on color), RandomForestClassifier 2 classes); NaN and unseen strings",
    )


def label_encoder_fixture():
    model = LabelEncoder().fit(["paris", "tokyo", "amsterdam", "lima"])
    onx = to_onnx(model, initial_types=[("input", StringTensorType([None]))])
    cities = np.array(["tokyo", "paris", "lima", "amsterdam", "berlin", "paris"], dtype=object)
    write_fixture(
        "label_encoder",
        onx,
        {"input": cities},
        "sklearn LabelEncoder alone (strings to int64; 'berlin' is unknown and maps to -1)",
    )


def onnx_ml_misc_fixture():
    """Hand-built graph for the ONNX-ML variants no sklearn default export reaches:
    LabelEncoder int64->string, string->float and float->int64 (opset 2 attributes) and with
    tensor attributes (opset 4), Imputer on int64, Scaler with one offset for every column,
    ArrayFeatureExtractor and Cast."""
    ml = "ai.onnx.ml"

    def tensor_attr(name, values, elem_type):
        return helper.make_tensor(name, elem_type, [len(values)], values)

    nodes = [
        helper.make_node(
            "LabelEncoder",
            ["codes"],
            ["code_names"],
            domain=ml,
            keys_int64s=[1, 2, 3],
            values_strings=["one", "two", "three"],
            default_string="other",
        ),
        helper.make_node(
            "LabelEncoder",
            ["words"],
            ["word_scores"],
            domain=ml,
            keys_strings=["low", "mid", "high"],
            values_floats=[0.25, 0.5, 0.75],
            default_float=-1.0,
        ),
        helper.make_node(
            "LabelEncoder",
            ["levels"],
            ["level_ids"],
            domain=ml,
            keys_floats=[0.5, 1.5, 2.5],
            values_int64s=[10, 20, 30],
            default_int64=99,
        ),
        helper.make_node(
            "LabelEncoder",
            ["codes"],
            ["code_weights"],
            domain=ml,
            keys_tensor=tensor_attr("keys", [1, 3], TensorProto.INT64),
            values_tensor=tensor_attr("values", [0.125, 8.0], TensorProto.DOUBLE),
            default_tensor=helper.make_tensor("default", TensorProto.DOUBLE, [1], [-2.0]),
        ),
        helper.make_node(
            "Imputer",
            ["counts"],
            ["counts_filled"],
            domain=ml,
            imputed_value_int64s=[7, 8],
            replaced_value_int64=-1,
        ),
        helper.make_node(
            "ArrayFeatureExtractor", ["features", "picks"], ["picked"], domain=ml
        ),
        helper.make_node("Scaler", ["picked"], ["scaled"], domain=ml, offset=[1.0], scale=[0.5]),
        helper.make_node("Cast", ["scaled"], ["scaled_f64"], to=TensorProto.DOUBLE),
    ]
    graph = helper.make_graph(
        nodes,
        "onnx_ml_misc",
        [
            helper.make_tensor_value_info("codes", TensorProto.INT64, ["N"]),
            helper.make_tensor_value_info("words", TensorProto.STRING, ["N"]),
            helper.make_tensor_value_info("levels", TensorProto.FLOAT, ["N"]),
            helper.make_tensor_value_info("counts", TensorProto.INT64, ["N", 2]),
            helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 5]),
        ],
        [
            helper.make_tensor_value_info("code_names", TensorProto.STRING, ["N"]),
            helper.make_tensor_value_info("word_scores", TensorProto.FLOAT, ["N"]),
            helper.make_tensor_value_info("level_ids", TensorProto.INT64, ["N"]),
            helper.make_tensor_value_info("code_weights", TensorProto.DOUBLE, ["N"]),
            helper.make_tensor_value_info("counts_filled", TensorProto.INT64, ["N", 2]),
            helper.make_tensor_value_info("scaled_f64", TensorProto.DOUBLE, ["N", 3]),
        ],
        initializer=[helper.make_tensor("picks", TensorProto.INT64, [3], [4, 0, 2])],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid(ml, 4)],
        producer_name="galley make_onnx_fixtures.py",
    )
    model.ir_version = 9
    onnx.checker.check_model(model, full_check=True)
    feeds = {
        "codes": np.array([1, 2, 3, 4, 3], dtype=np.int64),
        "words": np.array(["high", "low", "none", "mid", "low"], dtype=object),
        "levels": f32([2.5, 0.5, 3.0, 1.5, -0.5]),
        "counts": np.array([[-1, 3], [4, -1], [5, 6], [-1, -1], [0, 1]], dtype=np.int64),
        "features": f32(np.arange(25).reshape(5, 5) / 4.0),
    }
    write_fixture(
        "onnx_ml_misc",
        model,
        feeds,
        "hand-built: LabelEncoder (int64->string, string->float, float->int64, tensor "
        "attributes int64->double), Imputer on int64, ArrayFeatureExtractor, Scaler, Cast",
    )


def random_trees(rng, n_trees, depth, n_features, leaf_weights):
    """Complete binary trees with every branch mode, thresholds on a small grid (so equality
    matters) and random missing-value tracking. leaf_weights(rng) gives one leaf's
    [(target_or_class_id, weight)]. Node ids are a random permutation (nothing promises them
    sorted or starting at 0); each tree's root is listed first, which is how onnxruntime finds
    roots."""
    modes = ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ"]
    grid = [-1.0, 0.0, 0.5, 1.0]
    nodes = {k: [] for k in ("treeids", "nodeids", "featureids", "modes", "values",
                             "truenodeids", "falsenodeids", "missing_value_tracks_true")}
    leaves = {k: [] for k in ("treeids", "nodeids", "ids", "weights")}
    n_internal = 2**depth - 1
    for tree in range(n_trees):
        n_nodes = 2 ** (depth + 1) - 1
        ids = [int(i) for i in rng.permutation(n_nodes) + 3]
        for node in range(n_nodes):  # breadth first: node k has children 2k+1 and 2k+2
            internal = node < n_internal
            nodes["treeids"].append(tree)
            nodes["nodeids"].append(ids[node])
            nodes["featureids"].append(int(rng.randint(n_features)) if internal else 0)
            nodes["modes"].append(modes[int(rng.randint(len(modes)))] if internal else "LEAF")
            nodes["values"].append(float(grid[rng.randint(len(grid))]) if internal else 0.0)
            nodes["truenodeids"].append(ids[2 * node + 1] if internal else 0)
            nodes["falsenodeids"].append(ids[2 * node + 2] if internal else 0)
            nodes["missing_value_tracks_true"].append(int(rng.randint(2)) if internal else 0)
            if not internal:
                for target, weight in leaf_weights(rng):
                    leaves["treeids"].append(tree)
                    leaves["nodeids"].append(ids[node])
                    leaves["ids"].append(target)
                    leaves["weights"].append(weight)
    return nodes, leaves


def tree_ensemble_variants_fixture():
    ml = "ai.onnx.ml"
    rng = np.random.RandomState(SEED)
    n_features = 3
    nodes_out, outputs = [], []

    def node_attrs(nodes):
        return {f"nodes_{k}": v for k, v in nodes.items()}

    def regressor(name, n_targets, aggregate, post, base_values=None, as_tensor=False, high=1.0):
        def weights(r):
            return [(t, float(np.round(r.uniform(-high, high), 3))) for t in range(n_targets)]

        nodes, leaves = random_trees(rng, 3, 2, n_features, weights)
        attrs = node_attrs(nodes)
        attrs.update({f"target_{k}": v for k, v in leaves.items()})
        attrs.update(n_targets=n_targets, aggregate_function=aggregate, post_transform=post)
        if base_values is not None:
            attrs["base_values"] = base_values
        if as_tensor:
            for key, tensor_key in (("nodes_values", "nodes_values_as_tensor"),
                                    ("target_weights", "target_weights_as_tensor"),
                                    ("base_values", "base_values_as_tensor")):
                if key in attrs:
                    values = attrs.pop(key)
                    attrs[tensor_key] = helper.make_tensor(
                        tensor_key, TensorProto.FLOAT, [len(values)], values)
        nodes_out.append(helper.make_node(
            "TreeEnsembleRegressor", ["X"], [name], domain=ml, name=name, **attrs))
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", n_targets]))

    def classifier(name, labels, class_ids, post, base_values=None, low=-1.0, high=1.0):
        def weights(r):
            return [(c, float(np.round(r.uniform(low, high), 3))) for c in class_ids]

        nodes, leaves = random_trees(rng, 3, 2, n_features, weights)
        attrs = node_attrs(nodes)
        attrs.update({f"class_{k}": v for k, v in leaves.items()})
        attrs["post_transform"] = post
        if base_values is not None:
            attrs["base_values"] = base_values
        if isinstance(labels[0], str):
            attrs["classlabels_strings"] = labels
            label_type = TensorProto.STRING
        else:
            attrs["classlabels_int64s"] = labels
            label_type = TensorProto.INT64
        nodes_out.append(helper.make_node(
            "TreeEnsembleClassifier", ["X"], [f"{name}_label", f"{name}_scores"],
            domain=ml, name=name, **attrs))
        outputs.append(helper.make_tensor_value_info(f"{name}_label", label_type, ["N"]))
        outputs.append(helper.make_tensor_value_info(
            f"{name}_scores", TensorProto.FLOAT, ["N", len(labels)]))

    regressor("reg_sum", 1, "SUM", "NONE", base_values=[0.5])
    regressor("reg_average", 2, "AVERAGE", "NONE", base_values=[0.25, -0.25])
    regressor("reg_min", 2, "MIN", "NONE")
    regressor("reg_max", 1, "MAX", "NONE", base_values=[1.0])
    regressor("reg_logistic_1", 1, "SUM", "LOGISTIC")
    regressor("reg_logistic_3", 3, "SUM", "LOGISTIC")
    regressor("reg_softmax", 3, "AVERAGE", "SOFTMAX")
    regressor("reg_softmax_zero", 3, "SUM", "SOFTMAX_ZERO")
    regressor("reg_probit", 2, "AVERAGE", "PROBIT", base_values=[0.5, 0.5], high=0.4)
    regressor("reg_as_tensor", 2, "SUM", "NONE", base_values=[0.125, 2.0], as_tensor=True)
    classifier("multi_none", [3, 5, 7], [0, 1, 2], "NONE", base_values=[0.1, 0.0, -0.1])
    classifier("multi_softmax", ["a", "b", "c"], [0, 1, 2], "SOFTMAX")
    classifier("multi_logistic", [0, 1, 2, 3], [0, 2], "LOGISTIC")
    classifier("multi_softmax_zero", [0, 1, 2], [1, 2], "SOFTMAX_ZERO")
    classifier("bin_gb_style", [0, 1], [0], "LOGISTIC", base_values=[0.2])
    classifier("bin_one_class_positive", [0, 1], [1], "NONE", low=0.0, high=0.34)
    classifier("bin_one_class_mixed", [4, 9], [0], "NONE")
    classifier("bin_two_classes", ["no", "yes"], [0, 1], "NONE", low=0.0, high=0.34)
    classifier("bin_two_base_values", [0, 1], [1], "LOGISTIC", base_values=[-0.3, 0.3])
    classifier("bin_two_base_values_both", [0, 1], [0, 1], "NONE", base_values=[-0.3, 0.3])
    classifier("bin_zero_class_positive", [0, 1], [0], "NONE", low=0.0, high=0.34)

    graph = helper.make_graph(
        nodes_out,
        "tree_ensemble_variants",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", n_features])],
        outputs,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid(ml, 3)],
        producer_name="galley make_onnx_fixtures.py",
    )
    model.ir_version = 9
    onnx.checker.check_model(model, full_check=True)
    grid = np.array([-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, np.nan], dtype=np.float32)
    x = f32(grid[rng.randint(len(grid), size=(24, n_features))])
    write_fixture(
        "tree_ensemble_variants",
        model,
        {"X": x},
        "hand-built: TreeEnsembleRegressor (every aggregate and post transform, double "
        "attributes) and TreeEnsembleClassifier (multiclass and every binary layout), random "
        "trees with every branch mode and missing-value tracking, inputs on the threshold grid "
        "and NaN",
    )


def torch_mlp_fixture(iris_x):
    import io

    import torch

    torch.manual_seed(SEED)
    mlp = torch.nn.Sequential(
        torch.nn.Linear(4, 16),
        torch.nn.ReLU(),
        torch.nn.Linear(16, 8),
        torch.nn.Tanh(),
        torch.nn.Linear(8, 3),
        torch.nn.Softmax(dim=1),
    )
    mlp.eval()
    example = torch.from_numpy(f32(iris_x[:2]))
    buffer = io.BytesIO()
    torch.onnx.export(
        mlp,
        (example,),
        buffer,
        input_names=["input"],
        output_names=["probabilities"],
        dynamic_axes={"input": {0: "batch"}, "probabilities": {0: "batch"}},
        dynamo=False,
    )
    model = onnx.load_from_string(buffer.getvalue())
    write_fixture(
        "torch_mlp",
        model,
        {"input": rows(iris_x, 8)},
        "PyTorch MLP 4-16-8-3 with softmax, torch.onnx.export (TorchScript exporter, "
        "dynamic_axes) with a dynamic batch axis",
    )
    # torch's default exporter since 2.9 (torch.export based; needs onnxscript).
    batch = torch.export.Dim("batch", min=1)
    program = torch.onnx.export(
        mlp,
        (example,),
        input_names=["input"],
        output_names=["probabilities"],
        dynamic_shapes=({0: batch},),
        dynamo=True,
    )
    model = program.model_proto
    write_fixture(
        "torch_mlp_dynamo",
        model,
        {"input": rows(iris_x, 8)},
        "the same MLP, torch.onnx.export(dynamo=True) with a dynamic batch axis",
    )


if __name__ == "__main__":
    # skl2onnx iterates over sets of names, so node order follows string hashing: pin the hash
    # seed (by re-running under it) for byte-identical output from one run to the next.
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "PYTHONHASHSEED": "0"})
    main()
