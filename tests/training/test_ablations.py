"""The paper's ablations: the model variants, the loss choice, the arms and the verdicts."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import scipy.stats
import torch
from conftest import require_shared

from ritm_lite import losses
from ritm_lite import paper_claims as ablations
from ritm_lite.paper_claims import ARMS, CLAIMS, Budget, arm_config, arm_model, summary, verdicts
from ritm_lite.inference import optimize_for_inference
from ritm_lite.model import build_model
from ritm_lite.model.build import MODEL_PRESETS, ModelConfig
from ritm_lite.model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ritm_lite.model.click_encoding import DistanceMaps, NoPreviousMask
from ritm_lite.model.conv1s import Conv1E, Conv1S, DistanceMapsFusion
from ritm_lite.model.dmf import DMFModel
from ritm_lite.training.config import TrainConfig
from ritm_lite.training.optim import parameter_groups

VARIANTS = [{}, {"click_encoding": "distance_maps"}, {"fusion": "conv1e"}, {"fusion": "dmf"},
            {"prev_mask": False}, {"fusion": "dmf", "prev_mask": False}]


def _inputs(batch: int = 2, height: int = 64, width: int = 96) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    image = torch.rand(batch, 4, height, width)
    points = torch.tensor([[[10.0, 20.0, 0.0], [-1, -1, -1], [30.0, 40.0, 1.0], [-1, -1, -1]]] * batch)
    return image, points


def _variant(changes: dict, base: str = "efficientnet_lite0"):
    torch.manual_seed(0)
    return build_model(dataclasses.replace(MODEL_PRESETS[base], **changes)).eval()


@pytest.mark.parametrize("changes", VARIANTS, ids=lambda c: "+".join(f"{k}={v}" for k, v in c.items()) or "base")
def test_every_variant_runs_and_round_trips_through_a_checkpoint(changes, tmp_path):
    model = _variant(changes)
    image, points = _inputs()
    with torch.no_grad():
        out = model(image, points)
        assert out["instances"].shape == (2, 1, 64, 96) and out["instances_aux"].shape == (2, 1, 64, 96)
        assert torch.isfinite(out["instances"]).all()
        save_checkpoint(model, tmp_path / "m.pth")
        again = load_checkpoint(tmp_path / "m.pth").eval()
        assert type(again) is type(model)
        torch.testing.assert_close(again(image, points)["instances"], out["instances"], rtol=0, atol=0)


def test_the_parts_each_field_picks():
    assert isinstance(_variant({}).maps_transform, Conv1S)
    assert isinstance(_variant({"click_encoding": "distance_maps"}).click_maps, DistanceMaps)
    assert isinstance(_variant({"fusion": "conv1e"}).maps_transform, Conv1E)
    dmf = _variant({"fusion": "dmf"})
    assert isinstance(dmf, DMFModel) and isinstance(dmf.rgb_conv, DistanceMapsFusion)
    assert not hasattr(dmf, "maps_transform")
    assert any(k.startswith("rgb_conv.") for k in dmf.state_dict())  # the original's key name
    no_mask = _variant({"prev_mask": False})
    assert isinstance(no_mask.previous_mask, NoPreviousMask) and no_mask.maps_transform[0].in_channels == 2
    dmf_no_mask = _variant({"fusion": "dmf", "prev_mask": False})
    assert isinstance(dmf_no_mask, DMFModel) and isinstance(dmf_no_mask.previous_mask, NoPreviousMask)
    assert dmf_no_mask.rgb_conv[0].in_channels == 3 + 2


@pytest.mark.parametrize("changes, sees_mask", [({}, True), ({"fusion": "dmf"}, True),
                                                ({"prev_mask": False}, False),
                                                ({"fusion": "dmf", "prev_mask": False}, False)])
def test_only_models_with_prev_mask_read_channel_four(changes, sees_mask):
    model = _variant(changes)
    image, points = _inputs()
    flipped = image.clone()
    flipped[:, 3] = 1 - flipped[:, 3]
    with torch.no_grad():
        change = (model(image, points)["instances"] - model(flipped, points)["instances"]).abs().max().item()
    assert (change > 1e-3) is sees_mask


def test_clicks_move_the_output_of_every_fusion():
    image, points = _inputs()
    no_clicks = torch.full_like(points, -1.0)
    for changes in VARIANTS:
        model = _variant(changes)
        with torch.no_grad():
            change = (model(image, points)["instances"] - model(image, no_clicks)["instances"]).abs().max().item()
        assert change > 1e-4, changes


def test_dmf_has_no_image_only_part_and_the_fast_path_says_so():
    model = _variant({"fusion": "dmf"})
    image, points = _inputs(1)
    with pytest.raises(TypeError, match="DMF"):
        optimize_for_inference(model)(image, points)
    with pytest.raises(AttributeError):  # no Conv1S: the maps enter through rgb_conv
        model.conv1s  # noqa: B018


def test_learning_rates_follow_the_original():
    def slow(model, name):
        groups = {g["name"]: g["params"] for g in parameter_groups(model, 1.0, 0.1)}
        param = dict(model.named_parameters())[name]
        return any(param is p for p in groups["backbone"])

    assert not slow(_variant({}), "maps_transform.0.weight")  # Conv1S: full rate
    assert slow(_variant({"fusion": "conv1e"}), "maps_transform.weight")  # Conv1E: the backbone's x0.1
    assert not slow(_variant({"fusion": "dmf"}), "rgb_conv.0.weight")  # DMF: new, full rate


def test_bad_variant_fields_are_refused(tmp_path):
    with pytest.raises(ValueError, match="click_encoding"):
        ModelConfig(click_encoding="gaussians")
    with pytest.raises(ValueError, match="fusion"):
        ModelConfig(fusion="concat")
    model = _variant({})
    path = save_checkpoint(model, tmp_path / "m.pth")
    contents = torch.load(path, weights_only=True)
    contents["config"]["fusion"] = "concat"
    torch.save(contents, path)
    with pytest.raises(CheckpointError, match="fusion"):
        load_checkpoint(path)


def test_main_loss_names_each_loss_and_refuses_others():
    torch.manual_seed(0)
    logits, labels = torch.randn(2, 1, 8, 8), (torch.rand(2, 1, 8, 8) > 0.5).float()
    expected = {"nfl": losses.normalized_focal_loss(logits, labels, 0.5, 2.0),
                "focal": losses.focal_loss(logits, labels, 0.5, 2.0),
                "bce": losses.sigmoid_binary_cross_entropy(logits, labels),
                "soft_iou": losses.soft_iou_loss(logits, labels)}
    assert set(expected) == set(losses.MAIN_LOSSES)
    for name, value in expected.items():
        torch.testing.assert_close(losses.main_loss(name)(logits, labels), value)
    with pytest.raises(ValueError, match="unknown loss"):
        losses.main_loss("dice")
    with pytest.raises(ValueError, match="unknown loss"):
        TrainConfig(loss="dice")


def test_each_arm_changes_what_it_says():
    budget = Budget()
    base = arm_config("base", 0, budget)
    assert (base.epochs, base.epoch_len // base.batch_size, base.milestones) == (3, 100, (2,))
    assert arm_config("bce", 0, budget).loss == "bce"
    assert arm_config("random_clicks", 0, budget).max_num_next_clicks == 0
    assert arm_config("base", 1, budget).seed == 1
    assert set(ARMS) >= {c.better for c in CLAIMS} | {c.worse for c in CLAIMS}
    with pytest.raises(ValueError, match="unknown arm"):
        arm_config("bigger", 0, budget)
    with pytest.raises(ValueError, match="divisible"):
        Budget(steps=100, epochs=3)


def test_a_budget_with_duts_tr_draws_from_both_folders_and_says_so(tmp_path):
    budget = Budget(steps=900, duts_share=0.75)
    assert budget.data(tmp_path) == ([tmp_path / "DUTS-TR", tmp_path / "COCO_MVal"], [0.75, 0.25])
    assert Budget().data(tmp_path) == ([tmp_path / "COCO_MVal"], [1.0])
    assert budget.tag() == "steps900_duts0.75" and Budget().tag() == "steps300"
    assert ablations.command("base", 1, budget) == "python benchmarks/ablations.py --arms base --seeds 1 --steps 900 --duts-share 0.75"
    # a record written before the field existed is the default budget's (COCO_MVal alone)
    old = {k: v for k, v in dataclasses.asdict(Budget()).items() if k != "duts_share"}
    assert Budget.of_record(old) == Budget() and Budget.of_record(dataclasses.asdict(budget)) == budget


@pytest.mark.parametrize("share", [-0.1, 1.0, 1.5])
def test_bad_input_a_duts_share_outside_0_1_is_refused(share):
    with pytest.raises(ValueError, match="duts_share"):
        Budget(duts_share=share)


def test_bad_input_a_missing_duts_tr_folder_names_the_download(tmp_path):
    (tmp_path / "COCO_MVal").mkdir()
    with pytest.raises(FileNotFoundError, match=r"DUTS-TR: this budget trains on it.*download duts-tr"):
        ablations.train_arm("base", 0, Budget(steps=2, epochs=2, duts_share=0.5), tmp_path, tmp_path / "work")


def test_scratch_and_imagenet_arms_start_from_different_trunks():
    config = arm_config("base", 0, Budget())
    imagenet, scratch = arm_model("base", config), arm_model("scratch", config)
    key = "feature_extractor.conv_stem.weight"
    assert not torch.equal(imagenet.state_dict()[key], scratch.state_dict()[key])
    torch.testing.assert_close(imagenet.state_dict()[key], arm_model("conv1e", config).state_dict()[key])


def _record(arm: str, seed: int, miou: float, noc90: float = 8.0) -> dict:
    table = {"NoC@85": 6.0, "NoC@90": noc90}
    scores = {"table": table, "mean_iou_per_click": [miou] * 20}
    return {"arm": arm, "seed": seed, "budget": dataclasses.asdict(Budget()), "limit": None, "max_clicks": None,
            "evaluate": {"GrabCut": scores}}


def test_welch_interval_matches_the_formula_worked_by_hand():
    # a = 1, 2, 3 (s^2 = 1), b = 0, 0, 1 (s^2 = 1/3): se^2 = 1/3 + 1/9 = 4/9,
    # dof = (4/9)^2 / ((1/3)^2 / 2 + (1/9)^2 / 2) = (16/81) / (10/162) = 3.2
    found = ablations.welch_interval([1.0, 2.0, 3.0], [0.0, 0.0, 1.0])
    assert found["difference"] == pytest.approx(2 - 1 / 3)
    assert found["se"] == pytest.approx(2 / 3)
    assert found["dof"] == pytest.approx(3.2)
    half = scipy.stats.t.ppf(0.975, 3.2) * 2 / 3  # t(0.975, 3.2) is about 3.07, not 2
    assert half > 3 * 2 / 3
    assert (found["low"], found["high"]) == pytest.approx((5 / 3 - half, 5 / 3 + half))
    assert ablations.welch_interval([1.0, 1.0], [0.5, 0.5]) == {
        "difference": 0.5, "se": 0.0, "dof": math.inf, "low": 0.5, "high": 0.5}


@pytest.mark.parametrize("a, b, confidence", [([1.0], [1.0, 2.0], 0.95), ([1.0, 2.0], [], 0.95),
                                              ([1.0, 2.0], [1.0, 2.0], 1.0)])
def test_welch_interval_bad_input_is_refused(a, b, confidence):
    with pytest.raises(ValueError):
        ablations.welch_interval(a, b, confidence)


def test_verdicts_need_a_working_base_three_seeds_and_an_interval_clear_of_zero():
    seeds = range(3)
    records = ([_record("base", k, 0.80 + 0.01 * k) for k in seeds]         # 0.80, 0.81, 0.82
               + [_record("bce", k, 0.70 + 0.005 * k) for k in seeds]       # far behind: holds
               + [_record("focal", k, 0.79 + 0.04 * k) for k in seeds]      # wide spread: not resolved
               + [_record("scratch", k, 0.90 + 0.01 * k) for k in seeds]    # ahead of base: reversed
               + [_record("dmf", 0, 0.5)] + [_record("conv1e", k, 0.6) for k in range(2)])
    found = {v["claim"]: v for v in verdicts(records, "GrabCut")}
    assert found["NFL over BCE"]["verdict"] == "holds at this budget"
    assert found["NFL over BCE"]["difference"] == pytest.approx(0.105)
    assert found["NFL over BCE"]["se"] == pytest.approx(math.sqrt(0.0001 / 3 + 0.000025 / 3))
    assert found["NFL over Focal Loss"]["verdict"] == "not resolved at this budget"
    assert found["NFL over Focal Loss"]["low"] < 0 < found["NFL over Focal Loss"]["high"]
    assert found["ImageNet pretraining"]["verdict"] == "reversed at this budget"
    assert found["Conv1S over Conv1E"]["verdict"].startswith("cannot decide: 3 and 2 seeds")
    assert math.isnan(found["Conv1S over DMF"]["low"])  # one seed: no interval
    assert found["NFL over BCE"]["base_noc90"] == pytest.approx(8.0)
    assert "mask guidance" not in found  # neither arm stored
    # the same runs with a base that does not segment yet: nothing is decided, whatever the gaps
    failing = [_record(r["arm"], r["seed"], r["evaluate"]["GrabCut"]["mean_iou_per_click"][0],
                       noc90=19.8 if r["arm"] == "base" else 8.0) for r in records]
    for v in verdicts(failing, "GrabCut"):
        assert v["verdict"] == "cannot decide: the base arm does not work yet (GrabCut NoC@90 19.80 > 10)"
    rows = {r["arm"]: r for r in summary(records, "GrabCut")}
    assert rows["base"]["mIoU@1-20"][0] == pytest.approx(0.81)
    assert rows["base"]["mIoU@1-20"][1] == pytest.approx(0.01)
    assert math.isnan(rows["dmf"]["mIoU@1"][1])


def test_curves_stack_one_row_a_seed_and_refuse_unknown_arms_and_ragged_runs():
    records = [_record("base", 0, 0.8), _record("bce", 0, 0.7), _record("base", 1, 0.6)]
    base = ablations.curves(records, "base", "GrabCut")
    assert base.shape == (2, 20)
    assert base[:, 0].tolist() == [0.8, 0.6]
    assert ablations.curves(records, "focal", "GrabCut").shape == (0, 0)
    with pytest.raises(ValueError, match="unknown arm"):
        ablations.curves(records, "Base", "GrabCut")
    records[2]["evaluate"]["GrabCut"]["mean_iou_per_click"] = [0.6] * 5
    with pytest.raises(ValueError, match=r"different numbers of clicks: \[5, 20\]"):
        ablations.curves(records, "base", "GrabCut")


def test_load_results_leaves_out_smoke_runs_and_other_budgets(tmp_path):
    import json

    full, smoke, other = _record("base", 0, 0.8), _record("base", 1, 0.8), _record("base", 2, 0.8)
    smoke["limit"] = 2
    other["budget"] = dataclasses.asdict(Budget(steps=30))
    for i, record in enumerate((full, smoke, other)):
        (tmp_path / f"{i}.json").write_text(json.dumps(record))
    assert [r["seed"] for r in ablations.load_results(tmp_path, Budget())] == [0]
    assert sorted(r["seed"] for r in ablations.load_results(tmp_path)) == [0, 2]


def test_one_tiny_arm_end_to_end(tmp_path, two_threads):
    data = require_shared("data", "COCO_MVal").parent
    require_shared("data", "GrabCut")
    budget = Budget(steps=2, epochs=2, batch_size=2, crop_size=(64, 64))
    record = ablations.run_arm("random_clicks", 0, budget, data, tmp_path / "results", tmp_path / "work",
                               limit=2, max_clicks=2)
    assert record["train"]["steps"] == 2 and len(record["train"]["loss"]) == 2
    assert record["command"].startswith("python benchmarks/ablations.py --arms random_clicks --seeds 0 --steps 2")
    for key in ("GrabCut", "COCO_MVal_val"):
        assert len(record["evaluate"][key]["mean_iou_per_click"]) == 2
        assert record["evaluate"][key]["flip"] is False and record["evaluate"][key]["zoom_in"] is True
    stored = list((tmp_path / "results").glob("*.json"))
    assert [p.name for p in stored] == ["random_clicks_seed0_steps2_b2_c64x64_s0.625_e2.json"]
    assert isinstance(load_checkpoint(tmp_path / "work" / stored[0].stem / "final.pth").previous_mask, NoPreviousMask)


def test_the_stored_record_is_compact_and_keeps_every_number_the_notebook_reads():
    record = _record("base", 0, 0.8)
    record["evaluate"]["GrabCut"]["objects"] = [{"name": "a", "ious": [0.123456, 0.9], "clicks": [[1, 2, True]], "noc": 2}]
    record["train"] = {"loss": [1.234567], "iou": [0.5]}
    compact = ablations.compact_record(record)
    assert compact["evaluate"]["GrabCut"]["objects"] == [{"name": "a", "ious": [0.1235, 0.9], "noc": 2}]
    assert compact["train"]["loss"] == [1.2346]
    for name in ("NoC@85", "mIoU@1", "mIoU@1-20"):
        assert ablations.metric(compact, "GrabCut", name) == ablations.metric(record, "GrabCut", name)
    assert "clicks" in record["evaluate"]["GrabCut"]["objects"][0]  # the caller's record is not changed


def test_the_stored_runs_cover_every_arm_with_two_seeds_and_the_commands_that_made_them():
    from ritm_lite.utils import PROJECT_ROOT

    folder = PROJECT_ROOT / "benchmarks" / "results" / "ablations"
    for budget in {Budget.of_record(r["budget"]) for r in ablations.load_results(folder)}:
        records = ablations.load_results(folder, budget)
        seeds = {name: sorted(r["seed"] for r in records if r["arm"] == name) for name in ARMS}
        if budget == Budget():
            assert all(len(s) >= 2 for s in seeds.values()), f"arms with fewer than two seeds: {seeds}"
        for r in records:
            assert r["command"] == ablations.command(r["arm"], r["seed"], budget)
            for dataset in ablations.EVALUATIONS:
                scores = r["evaluate"][dataset]
                assert set(scores["table"]) >= {"NoC@85", "NoC@90"} and len(scores["mean_iou_per_click"]) == 20
        assert len({(r["arm"], r["seed"]) for r in records}) == len(records), "one record per arm and seed"


@pytest.mark.parametrize("name", ["mIoU@0", "mIoU@-1", "mIoU@6", "mIoU@21"])
def test_a_click_outside_the_scored_curve_is_refused_not_another_clicks_value(name):
    """mIoU@0 used to answer the last click's value (curve[-1]), mIoU@-1 the one before."""
    record = {"evaluate": {"GrabCut": {"mean_iou_per_click": [0.1, 0.2, 0.3, 0.4, 0.5], "table": {}}}}
    assert ablations.metric(record, "GrabCut", "mIoU@5") == 0.5
    with pytest.raises(ValueError, match=r"outside the 5 clicks"):
        ablations.metric(record, "GrabCut", name)


def test_a_broken_json_among_the_stored_runs_is_named(tmp_path):
    good = {"arm": "base", "seed": 0, "budget": {}, "evaluate": {}, "limit": None, "max_clicks": None}
    (tmp_path / "base_seed0_steps300.json").write_text(json.dumps(good))
    (tmp_path / "conv1e_seed0_steps300.json").write_text('{"arm": "conv1e", "seed": ')  # cut off mid-write
    with pytest.raises(ValueError, match="conv1e_seed0_steps300.json: not a readable JSON"):
        ablations.load_results(tmp_path)
    (tmp_path / "conv1e_seed0_steps300.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="conv1e_seed0_steps300.json: not a run record"):
        ablations.load_results(tmp_path)


def test_every_stored_run_still_loads():
    from ritm_lite.utils import PROJECT_ROOT

    records = ablations.load_results(PROJECT_ROOT / "benchmarks" / "results" / "ablations")
    assert len(records) >= 30 and all(ablations.metric(r, "GrabCut", "mIoU@1") > 0 for r in records)


def test_the_runner_calls_the_evaluation_function_not_a_command_line():
    import inspect

    source = inspect.getsource(ablations)
    assert "evaluate_benchmark(" in source and ".main(" not in source
