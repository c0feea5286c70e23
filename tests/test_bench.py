"""The benchmark suite (issue #7): FLOP counting against hand-computed
graphs, the roofline and Pareto logic, --compare, and the whole suite end to
end on a tiny configuration (no timing thresholds anywhere)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import SHARED_DATA

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from edgeaffect.bench.flops import count_onnx  # noqa: E402
from edgeaffect.bench.models import add_bounds, roofline  # noqa: E402
from edgeaffect.bench.plots import pareto_front  # noqa: E402
from edgeaffect.bench.report import compare, flatten_rows  # noqa: E402


def small_graph(rng, batch_dim="batch"):
    """Conv(3->4, 3x3, pad 1, bias) on 8x8 -> Relu -> Flatten -> MatMul(256x10) -> Add -> Softmax."""
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "b")
    m = numpy_helper.from_array(rng.standard_normal((256, 10)).astype(np.float32), "m")
    c = numpy_helper.from_array(rng.standard_normal(10).astype(np.float32), "c")
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["y"], ["r"]),
        helper.make_node("Flatten", ["r"], ["f"]),
        helper.make_node("MatMul", ["f", "m"], ["z"]),
        helper.make_node("Add", ["z", "c"], ["l"]),
        helper.make_node("Softmax", ["l"], ["p"], axis=-1),
    ]
    graph = helper.make_graph(nodes, "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch_dim, 3, 8, 8])],
                              [helper.make_tensor_value_info("p", TensorProto.FLOAT, [batch_dim, 10])], [w, b, m, c])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    return model


def test_flops_and_bytes_of_a_hand_computed_graph(rng):
    model = small_graph(rng)
    for batch in (1, 3):
        count = count_onnx(model, batch)
        conv = 2 * (4 * 8 * 8) * (3 * 3 * 3) + 4 * 8 * 8  # multiply-adds + bias per output element
        relu = 4 * 8 * 8
        matmul = 2 * 10 * 256
        add, softmax = 10, 5 * 10
        assert count.flops == batch * (conv + relu + matmul + add + softmax)
        assert count.weight_bytes == 4 * (4 * 3 * 3 * 3 + 4 + 256 * 10 + 10)
        assert count.io_bytes == 4 * batch * (3 * 8 * 8 + 10)
        # every node's inputs and outputs: conv(x,w,b,y) relu(y,r) flatten(r,f) matmul(f,m,z) add(z,c,l) softmax(l,p)
        per_item = (192 + 256) + (256 + 256) + (256 + 256) + (256 + 10) + (10 + 10) + (10 + 10)
        weights = (108 + 4) + 2560 + 10
        assert count.activation_bytes == 4 * (batch * per_item + weights)
        assert count.nodes == 6 and count.uncounted_ops == ()


def test_gemm_with_transposed_input_and_an_operator_without_a_rule(rng):
    a = numpy_helper.from_array(rng.standard_normal((7, 5)).astype(np.float32), "a")  # transA: K=7, M=5
    nodes = [helper.make_node("Gemm", ["a", "x"], ["y"], transA=1),
             helper.make_node("TopK", ["y", "k"], ["v", "i"], axis=1)]
    k = numpy_helper.from_array(np.array([2], np.int64), "k")
    graph = helper.make_graph(nodes, "gemm", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [7, 3])],
                              [helper.make_tensor_value_info("v", TensorProto.FLOAT, [5, 2])], [a, k])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    count = count_onnx(model, batch=7)  # a fixed first axis is taken as the batch
    assert count.flops == 2 * 5 * 3 * 7  # TopK contributes nothing and is named
    assert count.uncounted_ops == ("TopK",)


def _single_node_model(node, inputs, output, initializers):
    graph = helper.make_graph([node], "one", inputs, [output], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    return model


def test_grouped_conv_quantised_ops_and_gemm_with_bias(rng):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6, 5, 5])
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")  # groups=2: 3 in-channels each
    model = _single_node_model(helper.make_node("Conv", ["x", "w"], ["y"], group=2), [x],
                               helper.make_tensor_value_info("y", TensorProto.FLOAT, None), [w])
    assert count_onnx(model).flops == 2 * (4 * 3 * 3) * (3 * 3 * 3)  # no bias: multiply-adds only
    assert count_onnx(model).matmul_flops == count_onnx(model).flops

    u8 = lambda name, shape: helper.make_tensor_value_info(name, TensorProto.UINT8, shape)  # noqa: E731
    scale = lambda name: numpy_helper.from_array(np.array(0.1, np.float32), name)  # noqa: E731
    zero = lambda name, dtype: numpy_helper.from_array(np.array(0, dtype), name)  # noqa: E731
    wq = numpy_helper.from_array(rng.integers(-5, 5, (4, 2, 3, 3)).astype(np.int8), "wq")
    node = helper.make_node("QLinearConv", ["xq", "xs", "xz", "wq", "ws", "wz", "ys", "yz"], ["yq"], pads=[1, 1, 1, 1])
    model = _single_node_model(node, [u8("xq", [1, 2, 4, 4])], u8("yq", None),
                               [scale("xs"), zero("xz", np.uint8), wq, scale("ws"), zero("wz", np.int8), scale("ys"),
                                zero("yz", np.uint8)])
    assert count_onnx(model).flops == 2 * (4 * 4 * 4) * (2 * 3 * 3)

    bq = numpy_helper.from_array(rng.integers(-5, 5, (6, 3)).astype(np.int8), "bq")
    node = helper.make_node("QLinearMatMul", ["aq", "as", "az", "bq", "bs", "bz", "ys", "yz"], ["yq"])
    model = _single_node_model(node, [u8("aq", [2, 7, 6])], u8("yq", None),
                               [scale("as"), zero("az", np.uint8), bq, scale("bs"), zero("bz", np.int8), scale("ys"),
                                zero("yz", np.uint8)])
    assert count_onnx(model, batch=2).flops == 2 * (2 * 7 * 3) * 6

    node = helper.make_node("ConvInteger", ["xq", "wq"], ["y32"])
    model = _single_node_model(node, [u8("xq", [1, 2, 4, 4])], helper.make_tensor_value_info("y32", TensorProto.INT32, None),
                               [numpy_helper.from_array(rng.integers(0, 5, (4, 2, 3, 3)).astype(np.uint8), "wq")])
    assert count_onnx(model).flops == 2 * (4 * 2 * 2) * (2 * 3 * 3)

    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [3, 5])
    b = numpy_helper.from_array(rng.standard_normal((4, 5)).astype(np.float32), "b")  # transB: N=4, K=5
    c = numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "c")
    model = _single_node_model(helper.make_node("Gemm", ["a", "b", "c"], ["y"], transB=1), [a],
                               helper.make_tensor_value_info("y", TensorProto.FLOAT, None), [b, c])
    assert count_onnx(model, batch=3).flops == 2 * 3 * 4 * 5 + 3 * 4


def test_a_fixed_batch_cannot_be_counted_at_another(rng):
    model = small_graph(rng, batch_dim=1)
    assert count_onnx(model, 1).flops > 0
    with pytest.raises(ValueError, match="fixed batch of 1"):
        count_onnx(model, 8)


def test_a_second_dynamic_axis_is_a_clear_error(rng):
    model = small_graph(rng)
    model.graph.input[0].type.tensor_type.shape.dim[2].dim_param = "height"
    with pytest.raises(ValueError, match="dynamic axis 2"):
        count_onnx(model)


def test_roofline_floor_and_side():
    ceilings = {"matmul_float32_GFLOPs": 100.0, "matmul_int8_GOPs": 400.0, "copy_GBps": 10.0}
    count = {"flops": 1e9, "matmul_flops": 1e9, "io_bytes": 0}
    compute = roofline(count, 1_000_000, 0.0125, "fp32", ceilings)  # 10 ms of compute, 0.1 ms of memory
    assert compute["roofline_side"] == "compute" and compute["floor_ms"] == pytest.approx(10.0)
    assert compute["fraction_of_limit"] == pytest.approx(0.8)
    memory = roofline({"flops": 1e6, "matmul_flops": 0, "io_bytes": 0}, 100_000_000, 0.02, "fp32", ceilings)
    assert memory["roofline_side"] == "memory" and memory["fraction_of_limit"] == pytest.approx(0.5)
    # int8: the matmul part at the int8 peak, the rest (softmax, norms) at the fp32 peak
    mixed = roofline({"flops": 1e9, "matmul_flops": 0.8e9, "io_bytes": 0}, 0, 1.0, "int8", ceilings)
    assert mixed["floor_ms"] == pytest.approx((0.8e9 / 400e9 + 0.2e9 / 100e9) * 1e3)


def test_overhead_bound_comes_from_how_latency_grows_with_the_batch():
    ceilings = {"matmul_float32_GFLOPs": 100.0, "copy_GBps": 10.0}
    # 3 ms fixed per call + 0.1 ms per item
    rows = [{"batch": b, "p50_ms": 3.0 + 0.1 * b} for b in (1, 8, 32)]
    counts = {b: {"flops": 1e7 * b, "matmul_flops": 1e7 * b, "io_bytes": 0} for b in (1, 8, 32)}
    add_bounds(rows, counts, 0, "fp32", ceilings)
    assert [r["fixed_ms_per_call"] for r in rows] == pytest.approx([3.0] * 3)
    assert rows[0]["per_item_ms"] == pytest.approx(0.1)
    assert [r["bound"] for r in rows] == ["overhead", "overhead", "compute"]  # 3 / 6.2 < 0.5 at batch 32
    single = [{"batch": 1, "p50_ms": 1.0}]
    add_bounds(single, None, 0, "fp32", ceilings)
    assert single[0]["bound"] == "unknown" and single[0]["fixed_share"] is None


def test_pareto_front_keeps_only_undominated_points():
    points = [(3.0, 0.50), (1.0, 0.40), (2.0, 0.55), (2.5, 0.55), (0.5, 0.30)]
    assert pareto_front(points) == [(0.5, 0.30), (1.0, 0.40), (2.0, 0.55)]
    assert pareto_front([]) == []


def _result(p50_ms: float, accuracy: float, slug: str = "m") -> dict:
    return {"machine_slug": slug, "kernels": [{"kernel": "bde", "shape": "s", "impl": "edgeaffect", "median_ms": 2.0}],
            "deployments": [{"model": "fer", "backend": "onnxruntime", "precision": "int8", "accuracy": {"accuracy": accuracy},
                             "batches": [{"batch": 1, "p50_ms": p50_ms, "throughput_per_s": 1e3 / p50_ms}]}]}


def test_compare_reports_the_change_of_every_row():
    old, new = _result(2.0, 0.50), _result(1.0, 0.52, slug="other")
    assert len(flatten_rows(new)) == 2
    text = compare(old, new)
    assert "different machines" in text
    row = next(line for line in text.splitlines() if "fer onnxruntime int8 batch 1" in line)
    assert "-50.0%" in row and "faster" in row and "+2.00 pt" in row
    kernel = next(line for line in text.splitlines() if "bde s edgeaffect" in line)
    assert "+0.0%" in kernel and "same" in kernel
    extra = _result(1.0, 0.5)
    extra["kernels"] = []
    assert "Only in the old run: bde s edgeaffect" in compare(old, extra)


def test_failures_and_gaps_reach_the_report():
    from edgeaffect.bench.report import markdown_report

    deployment = {"model": "fer", "backend": "onnxruntime", "precision": "int8", "artifact": "a.onnx",
                  "artifact_bytes": 10, "cold_start": {"error": "the cold-start process failed: boom"},
                  "accuracy": {"error": "ValueError: bad data"}, "error": "",
                  "batches": [{"batch": 1, "samples": 5, "p50_ms": 1.0, "p90_ms": 1.0, "p99_ms": 1.0,
                               "throughput_per_s": 1000.0, "bound": "unknown"}]}
    result = {"machine": {"cpu": "cpu", "cores": 2, "machine": "x86_64", "cpu_flags": [], "libraries": {}},
              "machine_slug": "m", "config": {"threads": 2, "rounds": 1, "batches": [1], "quick": True},
              "date": "today", "seconds": 1.0, "kernels": [], "skipped": [],
              "ceilings": {"matmul_float32_GFLOPs": 1, "matmul_float64_GFLOPs": 1, "matmul_int8_GOPs": 1, "copy_GBps": 1},
              "deployments": [deployment], "notes": ["fer: no FLOP rule for TopK (counted as 0)"]}
    text = markdown_report(result, {})
    row = next(line for line in text.splitlines() if line.startswith("| fer | onnxruntime | int8 | 0.00"))
    assert row.count("failed") == 3  # both cold-start columns and the accuracy
    assert "no FLOP rule for TopK" in text


def test_ceilings_are_measured():
    from edgeaffect.bench.ceilings import measure_ceilings, peak_for

    c = measure_ceilings(threads=1, size=128, repeats=2)
    assert c["copy_GBps"] > 0 and c["matmul_float32_GFLOPs"] > 0 and c["matmul_int8_GOPs"] > 0
    assert ("matmul_bf16_GFLOPs" in c) != ("bf16_unavailable" in c)
    assert peak_for(c, "int8") == c["matmul_int8_GOPs"] and peak_for(c, "fp32") == c["matmul_float32_GFLOPs"]


@pytest.mark.slow
def test_the_suite_end_to_end_on_a_tiny_configuration(tmp_path, capsys):
    import edgeaffect
    from edgeaffect.bench.flops import count_onnx as count
    from edgeaffect.cli import main

    if "fer" not in edgeaffect.list_models():
        pytest.skip("the fer model is not shipped in this build")
    val = SHARED_DATA / "fer2013" / "val"
    data = ["--data", f"fer={val}"] if val.exists() else []
    out = tmp_path / "report"
    argv = ["bench", "--quick", "--models", "fer", "--backends", "onnxruntime", "--batches", "1", "2",
            "--rounds", "2", "--out", str(out), "--quiet"]
    assert main(argv + data) == 0
    result = json.loads(next(out.glob("bench-*.json")).read_text())
    assert result["machine"]["cores"] >= 1 and result["machine"]["libraries"]["onnxruntime"]
    rows = {d["precision"]: d for d in result["deployments"]}
    assert set(rows) == {"fp32", "int8"}  # the two ONNX artifacts fer ships
    for precision, d in rows.items():
        assert d["error"] == "" and d["artifact_bytes"] > 0
        assert [b["batch"] for b in d["batches"]] == [1, 2]
        one, two = d["batches"]
        for b in d["batches"]:
            assert b["p50_ms"] <= b["p90_ms"] <= b["p99_ms"]
            assert b["samples"] >= 12  # --quick's minimum per row
            assert b["throughput_per_s"] > 0 and b["fixed_ms_per_call"] >= 0
            assert b["bound"] in ("compute", "memory", "overhead")
        # FLOPs come from the fp32 graph for every precision: the same arithmetic
        assert two["flops"] == 2 * one["flops"] == 2 * count(rows["fp32"]["artifact"], 1).flops
        cold = d["cold_start"]
        assert cold["process_to_first_result_s"] > cold["load_to_first_result_s"] > 0
        memory = [cold["peak_rss_mb"][k] for k in ("1", "2")]
        assert 0 < memory[0] <= memory[1]
        if data:
            from edgeaffect.evaluation.run import evaluate

            metrics = evaluate("fer", val, backend="onnxruntime", precision=precision, limit=20)
            assert d["accuracy"]["accuracy"] == metrics["accuracy"] and d["accuracy"]["n"] == metrics["n"]
        else:
            assert d["accuracy"] is None
    impls = {(k["kernel"], k["impl"]) for k in result["kernels"]}
    assert {("bde", "edgeaffect"), ("attention", "edgeaffect"), ("attention", "numpy")} <= impls
    for kind in ("latency-accuracy", "latency-backends", "throughput"):
        png = next(out.glob(f"bench-*-{kind}.png")).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
    report = next(out.glob("bench-*.md")).read_text()
    assert "| fer | onnxruntime | int8 | 2 |" in report and result["machine"]["cpu"] in report
    capsys.readouterr()
    old = tmp_path / "old.json"
    old.write_text(next(out.glob("bench-*.json")).read_text())
    assert main([*argv, "--no-kernels", "--no-cold-start", "--no-accuracy", "--compare", str(old)]) == 0
    printed = capsys.readouterr().out
    assert "Change against" in printed and "fer onnxruntime fp32 batch 2" in printed
    assert "Only in the old run: bde" in printed


def test_exported_artifacts_join_their_model_for_one_run(tmp_path):
    """--artifacts: an exported file (its metadata names model and precision)
    replaces or adds the card's artifact for the run; the card is restored after."""
    import shutil

    import edgeaffect
    from edgeaffect.bench import BenchConfig, run_suite
    from edgeaffect.models import get_card
    from edgeaffect.models.registry import ARTIFACT_DIR

    if "fer" not in edgeaffect.list_models():
        pytest.skip("the fer model is not shipped in this build")
    before = get_card("fer")
    exported = tmp_path / "exported" / "fer-int8.onnx"
    exported.parent.mkdir()
    shutil.copy(ARTIFACT_DIR / before.artifact_map()["onnx-int8"], exported)
    config = BenchConfig.quick_config(models=("fer",), backends=("onnxruntime",), precisions=("int8",), batches=(1,),
                                      rounds=1, cold_start=False, accuracy=False, kernels=False, progress=False,
                                      artifacts=(str(exported.parent),))
    result = run_suite(config)
    assert [d["artifact"] for d in result["deployments"]] == [str(exported.resolve())]
    assert get_card("fer") == before
    with pytest.raises(FileNotFoundError, match="no such file"):
        run_suite(BenchConfig.quick_config(models=("fer",), artifacts=(str(tmp_path / "missing"),), progress=False))


def test_bench_cli_rejects_bad_arguments(tmp_path):
    from edgeaffect.cli import main

    with pytest.raises(SystemExit, match="MODEL=PATH"):
        main(["bench", "--data", "fer", "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="no model named nope"):
        main(["bench", "--quick", "--models", "nope", "--out", str(tmp_path), "--quiet"])
    with pytest.raises(SystemExit, match="cannot read --compare"):
        main(["bench", "--compare", str(tmp_path / "old.json"), "--out", str(tmp_path)])


def test_cold_start_runs_the_installed_package_even_from_a_source_checkout(monkeypatch):
    """From the repository root, `python -m` would import the uncompiled source
    folder; the child must use the same (built) package as the parent."""
    import edgeaffect
    from conftest import PROJECT_ROOT
    from edgeaffect.bench.models import Deployment, measure_cold_start

    if "eeg" not in edgeaffect.list_models():
        pytest.skip("the eeg model is not shipped in this build")
    try:
        edgeaffect.load("eeg", backend="native").close()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"the native engine is unavailable here: {exc}")
    monkeypatch.chdir(PROJECT_ROOT)
    cold = measure_cold_start(Deployment("eeg", "native", "fp32", artifact="eeg.safetensors"), 1, [1, 2])
    assert cold["process_to_first_result_s"] > cold["load_to_first_result_s"] > 0
    assert set(cold["peak_rss_mb"]) == {"1", "2"}
    assert cold["package"] == edgeaffect.__file__  # not the source folder in the working directory
