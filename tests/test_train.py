"""Pointer training: loss goes down, seeds repeat, resume is exact, best-by-val, CLI, 2-process accelerate."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from partpoint.commands import main as cli_main
from partpoint.data import open_dataset
from partpoint.errors import CheckpointError
from partpoint.pointer import PartPointer
from partpoint.predictor import Pointer
from partpoint.training import TrainConfig, plan_epoch, pointer_hit_rate, prepare_items, train_pointer
from partpoint.training.cache import FeatureCache

torch.set_num_threads(1)
HEADS = [(1, 0), (2, 3), (2, 1)]
SMALL = TrainConfig.of(epochs=3, batch_size=4, num_latents=4, depth=1, decoder_dim=16, stage_dims=(16, 16),
                       num_heads=3,
                       select_samples=4, lr=3e-3, progress=False)


def weights(directory: Path) -> dict:
    return PartPointer.from_pretrained(directory).state_dict()


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def data(tiny_setup, tmp_path_factory):
    _, backbone, train_spec, val_spec = tiny_setup
    cache_dir = tmp_path_factory.mktemp("shared_cache")
    config = SMALL.override(cache_dir=str(cache_dir))
    return backbone, open_dataset(train_spec), open_dataset(val_spec), config


def test_plan_buckets_by_grid_and_repeats():
    grids = [(8, 8)] * 5 + [(6, 10)] * 3
    plan = plan_epoch(grids, batch_size=2, seed=0, epoch=1)
    assert sorted(i for batch in plan for i in batch) == list(range(8))
    assert all(len({grids[i] for i in batch}) == 1 for batch in plan)
    assert plan == plan_epoch(grids, batch_size=2, seed=0, epoch=1) != plan_epoch(grids, batch_size=2,
                                                                                  seed=0, epoch=2)


PAPER_LOSS = dict(sdf_cap=None, detach_attn=False, a2p_residual=False, padding="zeros", inside_slope=0.0)


def test_training_lowers_the_loss_and_saves_a_loadable_pointer(data, tmp_path):
    backbone, train, _, config = data
    paper = train_pointer(backbone, train, heads=HEADS, out_dir=tmp_path / "paper",
                          config=config.override(epochs=6, **PAPER_LOSS))
    losses = [record["loss"] for record in paper.log["epochs"]]
    assert paper.completed and len(losses) == 6 and losses[-1] < 0.8 * losses[0]
    # the defaults: the capped penalty has a floor of its own, so the BCE is what must fall
    result = train_pointer(backbone, train, heads=HEADS, out_dir=tmp_path, config=config.override(epochs=6))
    losses = [record["loss"] for record in result.log["epochs"]]
    bce = [record["bce"] for record in result.log["epochs"]]
    assert result.completed and len(losses) == 6
    assert losses[-1] < losses[0] and bce[-1] < 0.8 * bce[0]
    log = json.loads((tmp_path / "train_log.json").read_text())
    assert log["status"] == "completed" and log["identity"]["heads"] == [list(h) for h in HEADS]
    assert log["identity"]["fingerprint"] == backbone.fingerprint and log["config"]["optim"]["epochs"] == 6
    loaded = PartPointer.from_pretrained(tmp_path)
    assert loaded.identity.heads == tuple(HEADS) and loaded.config.stage_dims == (16, 16)
    point = Pointer(backbone=backbone, model=loaded).point(train[0].image, train[0].instruction)
    assert 0 <= point.x <= train[0].image.width and 0 <= point.y <= train[0].image.height
    foreign = SimpleNamespace(name="other", fingerprint="0123456789abcdef")
    with pytest.raises(CheckpointError, match="fingerprint"):
        Pointer(backbone=foreign, model=loaded)


def test_same_seed_same_weights(data, tmp_path):
    backbone, train, _, config = data
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        train_pointer(backbone, train, heads=HEADS, out_dir=tmp_path / name,
                      config=config.override(seed=seed))
    assert same_weights(weights(tmp_path / "a"), weights(tmp_path / "b"))
    assert not same_weights(weights(tmp_path / "a"), weights(tmp_path / "c"))


def test_resume_after_interruption_gives_the_same_weights(data, tmp_path):
    backbone, train, _, config = data
    train_pointer(backbone, train, heads=HEADS, out_dir=tmp_path / "whole", config=config)
    stopped = train_pointer(backbone, train, heads=HEADS, out_dir=tmp_path / "split",
                            config=config.override(stop_after_steps=4, checkpoint_every_steps=3))
    assert not stopped.completed and not (tmp_path / "split" / "model.safetensors").exists()
    assert json.loads((tmp_path / "split" / "train_log.json").read_text())["status"] == "running"
    with pytest.raises(CheckpointError, match="lr"):
        train_pointer(backbone, train, heads=HEADS, out_dir=tmp_path / "split",
                      config=config.override(lr=1e-2),
                      resume=True)
    resumed = train_pointer(backbone, train, heads=HEADS, out_dir=tmp_path / "split", config=config,
                            resume=True)
    assert resumed.completed
    assert same_weights(weights(tmp_path / "whole"), weights(tmp_path / "split"))
    whole_log = json.loads((tmp_path / "whole" / "train_log.json").read_text())
    assert [e["loss"] for e in whole_log["epochs"]] == [e["loss"] for e in resumed.log["epochs"]]


def test_selects_heads_and_keeps_the_best_val_epoch(data, tmp_path):
    backbone, train, val, config = data
    result = train_pointer(backbone, [train], val_dataset=val, out_dir=tmp_path,
                           config=config.override(epochs=4))
    selection = json.loads((tmp_path / "heads.json").read_text())
    assert len(selection["heads"]) == 3 and result.log["identity"]["heads"] == selection["heads"]
    hits = [record["val_hit_rate"] for record in result.log["epochs"]]
    best = result.log["best"]
    assert best["val_hit_rate"] == max(hits) and hits[best["epoch"] - 1] == max(hits)
    assert 0.0 <= result.log["val_attention_baseline_hit_rate"] <= 1.0
    heads = [tuple(h) for h in selection["heads"]]
    val_cache = FeatureCache.build(backbone, val, heads=heads, cache_dir=config.cache_dir, progress=False)
    items, _ = prepare_items(val_cache.entries(), scale=result.pointer.config.upsample)
    assert pointer_hit_rate(result.pointer,
                            items) == pytest.approx(max(hits))  # the saved pointer is the best epoch
    from partpoint.losses import part_cells

    for item in items:  # the BCE trains on the patch mask that patch accuracy scores
        assert item.patch_target.tolist() == part_cells(item.coverage.numpy()).astype(float).tolist()


def test_cli_select_heads_json_and_train(tiny_setup, tmp_path, capsys):
    backbone_dir, _, train_spec, val_spec = tiny_setup
    heads_file = tmp_path / "heads.json"
    code = cli_main(["select-heads", "--backbone", str(backbone_dir), "--data", train_spec, "--k", "2",
                     "--n-samples", "4", "--json", "--out", str(heads_file), "--quiet"])
    printed = json.loads(capsys.readouterr().out)
    assert code == 0 and len(printed["heads"]) == 2 and json.loads(heads_file.read_text()) == printed
    assert cli_main(["select-heads", "--backbone", str(backbone_dir), "--data", train_spec, "--data",
                     val_spec,
                     "--k", "2", "--n-samples", "4", "--quiet"]) == 0
    assert "rank  layer  head  votes" in capsys.readouterr().out
    out = tmp_path / "pointer"
    code = cli_main(["train", "--backbone", str(backbone_dir), "--data", train_spec, "--data", val_spec,
                     "--val", val_spec, "--out", str(out), "--heads", str(heads_file), "--epochs", "1",
                     "--batch-size", "8", "--num-latents", "2", "--depth", "1", "--no-values", "--quiet"])
    assert code == 0 and "best val hit rate" in capsys.readouterr().out
    trained = PartPointer.from_pretrained(out)
    assert trained.identity.heads == tuple(tuple(h) for h in printed["heads"])
    assert not trained.config.use_values and trained.config.num_latents == 2
    assert cli_main(["train", "--backbone", str(backbone_dir), "--data", train_spec, "--out", str(out),
                     "--heads", str(tmp_path / "missing.json"), "--quiet"]) == 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_accelerate_run(tiny_setup, tmp_path):
    backbone_dir, _, train_spec, val_spec = tiny_setup
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(free_port()), "-m", "partpoint", "train", "--backbone",
               str(backbone_dir),
               "--data", train_spec, "--val", val_spec, "--out", str(out), "--k", "2", "--epochs", "2",
               "--batch-size", "4", "--num-latents", "2", "--depth", "1", "--threads", "1", "--quiet"]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    log = json.loads((out / "train_log.json").read_text())
    assert log["world_size"] == 2 and log["status"] == "completed" and len(log["epochs"]) == 2
    batches = math.ceil(log["train_items"] / 4)
    assert log["epochs"][-1]["steps"] == 2 * math.ceil(batches / 2)  # each process takes half the batches
    PartPointer.from_pretrained(out)


SHARDED_BUILD = """
import json, sys
from accelerate import Accelerator
from partpoint.backbones import load_backbone
from partpoint.training.cache import FeatureCache
from partpoint.data import open_dataset

accelerator = Accelerator(cpu=True)
backbone, dataset = load_backbone(sys.argv[1]), open_dataset(sys.argv[2])
cache = FeatureCache.build(backbone, dataset, heads=[(0, 0), (1, 1)], cache_dir=sys.argv[3], shard_size=2,
batch_size=2,
                           progress=False, rank=accelerator.process_index, world=accelerator.num_processes,
                           wait=accelerator.wait_for_everyone)
if accelerator.is_main_process:
    with open(sys.argv[4], "w") as f:
        json.dump({"keys": [e.key for e in cache.entries()], "skipped": cache.skipped, "index": cache.index},
        f)
"""


def test_two_processes_build_one_cache_without_duplicate_or_missing_samples(tiny_setup, tmp_path):
    backbone_dir, backbone, train_spec, _ = tiny_setup
    script, report = tmp_path / "build.py", tmp_path / "report.json"
    script.write_text(SHARDED_BUILD)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(free_port()), str(script), str(backbone_dir), train_spec,
               str(tmp_path / "cache"), str(report)]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(report.read_text())
    dataset = open_dataset(train_spec)
    seen = result["keys"] + result["skipped"]
    assert sorted(seen) == sorted(dataset.key(i) for i in range(len(dataset))) and len(set(seen)) == len(seen)
    index = result["index"]
    assert index["num_shards"] == math.ceil(len(dataset) / 2) >= 2 and set(index["written_by"]) == {0, 1}
    assert index["written_by"] == [shard % 2 for shard in range(index["num_shards"])]
    assert index["entries"] == len(result["keys"]) and index["skipped"] == len(result["skipped"])
    # the same cache as one process builds
    single = FeatureCache.build(backbone, dataset, heads=[(0, 0), (1, 1)], cache_dir=tmp_path / "one",
                                shard_size=2,
                                batch_size=2, progress=False)
    shared = FeatureCache.open(next((tmp_path / "cache").iterdir()))
    assert [e.key for e in single] == result["keys"]
    for a, b in zip(single, shared):
        assert torch.allclose(a.k_image.float(), b.k_image.float(), atol=2e-3)


def test_init_fine_tunes_from_a_pointer_keeping_its_heads_and_architecture(data, tmp_path):
    backbone, train, _, config = data
    train_pointer(backbone, train, heads=HEADS, out_dir=tmp_path / "first", config=config.override(epochs=1))
    first = str(tmp_path / "first")
    other = config.override(epochs=1, lr=0.0, num_latents=2, init=first)  # lr 0: nothing moves
    tuned = train_pointer(backbone, train, heads=[(0, 0)], out_dir=tmp_path / "tuned", config=other)
    assert tuned.pointer.identity.heads == tuple(HEADS) and tuned.pointer.config.num_latents == 4
    assert same_weights(weights(tmp_path / "first"), weights(tmp_path / "tuned"))
    train_pointer(backbone, train, out_dir=tmp_path / "moved", config=config.override(epochs=1, init=first))
    assert not same_weights(weights(tmp_path / "first"), weights(tmp_path / "moved"))
    with pytest.raises(CheckpointError, match="not found"):
        missing = config.override(init=str(tmp_path / "none"))
        train_pointer(backbone, train, out_dir=tmp_path / "x", config=missing)


def test_several_val_sets_their_mean_picks_the_epoch(data, tmp_path):
    backbone, train, val, config = data
    half = val.subset(list(range(len(val) // 2)))
    result = train_pointer(backbone, [train], val_dataset=[val, half], heads=HEADS, out_dir=tmp_path,
                           config=config.override(epochs=2))
    names = [entry["dataset"] for entry in result.log["val"]]
    assert len(names) == 2 and len(set(names)) == 2  # one dataset name, told apart
    for record in result.log["epochs"]:
        rates = record["val_hit_rates"]
        assert sorted(rates) == sorted(names)
        assert record["val_hit_rate"] == pytest.approx(sum(rates.values()) / 2)
    attention = [entry["attention_baseline_hit_rate"] for entry in result.log["val"]]
    assert result.log["val_attention_baseline_hit_rate"] == pytest.approx(sum(attention) / 2)
