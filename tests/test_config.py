import dataclasses

import pytest
import yaml

from ablate.config import resolve_study
from ablate.design import ConfigError, baseline_levels, cell_name, deep_merge, expand_design

FACTORS = {
    "augmentation": {"none": {}, "geometric": {"augmentation": [{"name": "random_flip"}]}},
    "regularization": {
        "none": {},
        "dropout": {"model": {"dropout": 0.3}},
        "dropout-batchnorm": {"model": {"dropout": 0.3, "batch_norm": True}},
    },
}
BASE = {
    "model": {"name": "small_convnet", "dropout": 0.0, "batch_norm": False},
    "augmentation": [],
    "optimizer": {"name": "adam", "learning_rate": 0.001},
    "batch_size": 32,
    "epochs": 3,
}


DATASET = {"source": "builtin:digits", "split": {"train": 0.7, "validation": 0.15, "test": 0.15}}


def study_config(**overrides):
    return {
        "study": "s", "dataset": DATASET, "base": BASE, "factors": FACTORS, "seeds": [1, 2],
        **overrides,
    }  # fmt: skip


def test_deep_merge_merges_mappings_and_replaces_everything_else():
    base = {"model": {"name": "m", "filters": [1, 2]}, "epochs": 3}
    merged = deep_merge(base, {"model": {"filters": [4]}, "epochs": 5})
    assert merged == {"model": {"name": "m", "filters": [4]}, "epochs": 5}
    assert base["model"]["filters"] == [1, 2]  # the base is not modified


def test_a_patch_naming_another_model_or_optimizer_replaces_it():
    base = {
        "model": {"name": "cifar_cnn", "l2": 1e-5},
        "optimizer": {"name": "adam", "amsgrad": True},
    }
    patch = {"model": {"name": "keras_app:VGG16"}, "optimizer": {"name": "adam", "beta_1": 0.8}}
    assert deep_merge(base, patch) == {
        "model": {"name": "keras_app:VGG16"},
        "optimizer": {"name": "adam", "amsgrad": True, "beta_1": 0.8},  # same name: merged
    }


def test_deep_merge_with_empty_patch_is_a_copy():
    assert deep_merge(BASE, None) == BASE
    assert deep_merge(BASE, None) is not BASE


def test_a_merged_setting_shares_nothing_with_the_base_or_the_patch():
    base = {"model": {"name": "m", "filters": [4, 8]}, "augmentation": []}
    patch = {"augmentation": [{"name": "random_flip"}], "model": {"head": {"units": 8}}}
    merged = deep_merge(base, patch)
    merged["model"]["filters"].append(16)
    merged["augmentation"][0]["mode"] = "vertical"
    merged["model"]["head"]["units"] = 4
    assert base == {"model": {"name": "m", "filters": [4, 8]}, "augmentation": []}
    assert patch == {"augmentation": [{"name": "random_flip"}], "model": {"head": {"units": 8}}}


def test_cell_name_is_readable_and_path_safe():
    name = cell_name({"augmentation": "geometric", "regularization": "dropout"})
    assert name == "augmentation-geometric__regularization-dropout"
    assert cell_name({}) == "base"


def test_full_design_is_the_cartesian_product_in_factor_order():
    cells = expand_design(FACTORS, "full", baseline_levels(FACTORS, {}))
    assert len(cells) == 6
    assert cells[0] == {"augmentation": "none", "regularization": "none"}
    assert cells[-1] == {"augmentation": "geometric", "regularization": "dropout-batchnorm"}
    assert len({cell_name(c) for c in cells}) == 6


def test_one_at_a_time_changes_each_other_level_alone():
    baseline = baseline_levels(FACTORS, {"regularization": "dropout"})
    cells = expand_design(FACTORS, "one-at-a-time", baseline)
    assert cells == [
        {"augmentation": "none", "regularization": "dropout"},
        {"augmentation": "geometric", "regularization": "dropout"},
        {"augmentation": "none", "regularization": "none"},
        {"augmentation": "none", "regularization": "dropout-batchnorm"},
    ]


def test_list_design_fills_missing_factors_from_the_baseline_and_drops_duplicates():
    baseline = baseline_levels(FACTORS, {})
    listed = [{"augmentation": "geometric"}, {"regularization": "dropout"}, {}, {}]
    cells = expand_design(FACTORS, "list", baseline, listed)
    assert cells == [
        {"augmentation": "geometric", "regularization": "none"},
        {"augmentation": "none", "regularization": "dropout"},
        {"augmentation": "none", "regularization": "none"},
    ]


def test_list_design_names_an_unknown_level_and_the_valid_ones():
    with pytest.raises(ConfigError, match=r"cells\[0\]\.augmentation.*'flip'.*none, geometric"):
        expand_design(FACTORS, "list", baseline_levels(FACTORS, {}), [{"augmentation": "flip"}])


def test_baseline_defaults_to_first_levels_and_rejects_unknown_factors():
    assert baseline_levels(FACTORS, {}) == {"augmentation": "none", "regularization": "none"}
    with pytest.raises(ConfigError, match=r"baseline\.optimizer.*no factor"):
        baseline_levels(FACTORS, {"optimizer": "sgd"})


def test_resolve_study_patches_the_base_per_cell():
    study = resolve_study(study_config())
    assert next(iter(study.cells)) == study.baseline == "augmentation-none__regularization-none"
    cell = study.cells["augmentation-geometric__regularization-dropout-batchnorm"]
    assert cell.settings.model == {"name": "small_convnet", "dropout": 0.3, "batch_norm": True}
    assert cell.settings.augmentation == [{"name": "random_flip"}]
    assert cell.levels == {"augmentation": "geometric", "regularization": "dropout-batchnorm"}
    assert study.seeds == [1, 2]
    assert all(cell.name == name for name, cell in study.cells.items())
    assert (study.name, study.factors) == ("s", ["augmentation", "regularization"])
    assert study.baseline_levels == {"augmentation": "none", "regularization": "none"}
    assert study.partial is False
    assert resolve_study(study_config(partial=True)).partial is True


def reversed_keys(value):
    """``value`` with every mapping's keys in reverse order."""
    if isinstance(value, dict):
        return {key: reversed_keys(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_keys(item) for item in value]
    return value


def test_the_same_settings_in_another_key_order_resolve_to_the_same_params():
    # Snakemake compares params by repr: a reordered config must not rerun anything.
    mixing = {"name": "cutmix", "probability": 0.5}
    config = study_config(checks={"min_effect": 0.01, "futility": 0.1},
                          base={**BASE, "mixing": mixing})  # fmt: skip
    reordered = {key: config[key] if key == "factors" else reversed_keys(config[key])
                 for key in reversed(list(config))}  # fmt: skip
    assert list(reordered["dataset"]["split"]) != list(config["dataset"]["split"])
    written, read = resolve_study(config), resolve_study(reordered)
    for part in ("split", "labels"):
        assert repr(getattr(read.dataset, part)) == repr(getattr(written.dataset, part))
    assert repr(read.checks.as_dict()) == repr(written.checks.as_dict())
    assert list(read.cells) == list(written.cells)  # the design's order is the config's
    assert [repr(cell.settings.as_dict()) for cell in read.cells.values()] == [
        repr(cell.settings.as_dict()) for cell in written.cells.values()
    ]


def test_no_factors_gives_one_base_cell():
    study = resolve_study({"study": "s", "dataset": DATASET, "base": BASE})
    assert list(study.cells) == ["base"]
    assert study.baseline == "base"


def test_a_typo_in_a_level_patch_names_the_level_and_the_key():
    factors = {"regularization": {"none": {}, "dropout": {"model": {"dropuot": 0.3}}}}
    with pytest.raises(
        ConfigError,
        match=r"^config key 'factors\.regularization\.dropout\.model\.dropuot': .*"
        r"Did you mean 'dropout'\?.*Accepted: .*dropout",
    ):
        resolve_study(study_config(factors=factors))


def test_an_unknown_top_level_setting_in_a_patch_is_named():
    factors = {"length": {"short": {"epoch": 3}}}
    with pytest.raises(ConfigError, match=r"factors\.length\.short.*'epoch' was unexpected"):
        resolve_study(study_config(factors=factors))


def test_a_bad_value_in_a_patch_names_its_key():
    factors = {"batch": {"zero": {"batch_size": 0}}}
    with pytest.raises(ConfigError, match=r"key 'factors\.batch\.zero\.batch_size'.*minimum"):
        resolve_study(study_config(factors=factors))


# A misspelt argument of every registry, in `base` and in a factor level's patch: one line
# with the key path, the did-you-mean and the accepted arguments (no TensorFlow needed).
MISTAKES = [
    ({"optimizer": {"name": "adam", "beta_one": 0.9}}, "optimizer.beta_one", "beta_1"),
    (
        {"augmentation": [{"name": "random_flip"}, {"name": "random_zoom", "hieght_factor": 0.1}]},
        r"augmentation\[1\]\.hieght_factor",
        "height_factor",
    ),
    ({"mixing": {"name": "mixup", "alfa": 0.2}}, "mixing.alfa", "alpha"),
    ({"model": {"name": "small_convnet", "filter": [8]}}, "model.filter", "filters"),
    ({"schedule": {"name": "cosine", "alfa": 0.1}}, "schedule", "alfa"),
]


@pytest.mark.parametrize(("patch", "key", "hint"), MISTAKES)
def test_a_misspelt_argument_is_named_in_base_and_in_a_level(patch, key, hint):
    base = deep_merge(BASE, patch)
    with pytest.raises(ConfigError, match=rf"^config key 'base\.{key}.*{hint}") as error:
        resolve_study(study_config(base=base))
    assert "\n" not in str(error.value)
    factors = {**FACTORS, "variant": {"plain": {}, "typo": patch}}
    with pytest.raises(ConfigError, match=rf"^config key 'factors\.variant\.typo\.{key}.*{hint}"):
        resolve_study(study_config(factors=factors))


def test_a_source_folder_is_found_from_the_working_directory_by_default(tmp_path, monkeypatch):
    (tmp_path / "images").mkdir()
    monkeypatch.chdir(tmp_path)  # where snakemake runs
    study = resolve_study(study_config(dataset={**DATASET, "source": "dir:images"}))
    assert study.dataset.source == "dir:images"


def test_a_missing_source_folder_is_named_at_plan_time(tmp_path):
    dataset = {**DATASET, "source": "dir:no/such/folder"}
    with pytest.raises(ConfigError, match=r"dataset\.source.*no/such/folder.*not a folder"):
        resolve_study(study_config(dataset=dataset), workdir=tmp_path)
    (tmp_path / "a-file").write_text("")
    with pytest.raises(ConfigError, match=r"a-file.*it is a file"):
        resolve_study(study_config(dataset={**DATASET, "source": "dir:a-file"}), tmp_path)
    (tmp_path / "images").mkdir()
    study = resolve_study(study_config(dataset={**DATASET, "source": "dir:images"}), tmp_path)
    assert study.dataset.source == "dir:images"


def test_a_checksum_of_only_digits_gets_the_hint_to_quote_it():
    sha = "1" * 64
    config = yaml.safe_load(f"source: url:https://example.org/a.zip\nsha256: {sha}\n")
    with pytest.raises(ConfigError, match=r"dataset\.sha256.*quote it"):
        resolve_study(study_config(dataset={**DATASET, **config}))


@pytest.mark.parametrize("text", ["1e-3", "1.0e3"])
def test_a_number_yaml_reads_as_text_gets_the_hint_to_write_a_dot(text):
    base = yaml.safe_load(f"optimizer: {{name: adam, learning_rate: {text}}}")  # as Snakemake
    with pytest.raises(ConfigError, match=r"learning_rate.*a dot and a signed exponent"):
        resolve_study(study_config(base={**BASE, **base}))
    quoted = {"optimizer": {"name": "adam", "learning_rate": "0.001"}}  # not this hint
    with pytest.raises(ConfigError) as error:
        resolve_study(study_config(base={**BASE, **quoted}))
    assert "signed exponent" not in str(error.value)


def test_settings_types_and_schema_name_the_same_keys():
    from ablate.schema import document
    from ablate.settings import CellSettings, Checks, DatasetSettings, Resources

    schema = document()
    fields = {
        CellSettings: schema["$defs"]["settings"]["properties"],
        DatasetSettings: schema["properties"]["dataset"]["properties"],
        Resources: schema["properties"]["resources"]["properties"],
        Checks: schema["properties"]["checks"]["properties"],
    }
    for record, keys in fields.items():
        assert {f.name for f in dataclasses.fields(record)} == set(keys), record


def test_every_cell_spells_out_every_setting_with_the_schemas_defaults():
    factors = {"mix": {"none": {}, "cutmix": {"mixing": {"name": "cutmix"}}}}
    study = resolve_study(study_config(factors=factors))
    settings = study.cells["mix-cutmix"].settings
    assert settings.mixing == {"name": "cutmix", "probability": 1}
    assert settings.schedule == {"name": "constant", "alpha": 0, "every_epochs": 10, "factor": 0.1}
    assert study.cells["mix-none"].settings.mixing is None
    assert study.resources.runtime == 120 and study.checks.divergence_gap == 0.25


def test_an_unknown_model_lists_the_valid_names():
    base = deep_merge(BASE, {"model": {"name": "small_convnett"}})
    with pytest.raises(ConfigError, match=r"unknown model 'small_convnett'.*small_convnet"):
        resolve_study(study_config(base=base))


def test_unknown_augmentation_and_optimizer_names_are_rejected():
    factors = {"aug": {"x": {"augmentation": [{"name": "random_flipp"}]}}}
    with pytest.raises(ConfigError, match=r"augmentation\[0\].*'random_flipp'.*random_flip"):
        resolve_study(study_config(factors=factors))
    base = deep_merge(BASE, {"optimizer": {"name": "adamm"}})
    with pytest.raises(ConfigError, match=r"unknown optimizer 'adamm'.*adam, adamw"):
        resolve_study(study_config(base=base))
    factors = {"mix": {"x": {"mixing": {"name": "cutmixx"}}}}
    with pytest.raises(ConfigError, match=r"unknown mixing 'cutmixx'.*cutmix, mixup"):
        resolve_study(study_config(factors=factors))


def test_plateau_reduction_and_a_schedule_do_not_mix():
    factors = {"lr": {"x": {"schedule": {"name": "cosine"}, "reduce_lr_on_plateau": {}}}}
    with pytest.raises(ConfigError, match=r"lr\.x\.reduce_lr_on_plateau': needs schedule"):
        resolve_study(study_config(factors=factors))


def test_plateau_reduction_under_a_constant_rate_is_fine():
    factors = {"lr": {"plateau": {"reduce_lr_on_plateau": {}}}}
    cell = resolve_study(study_config(factors=factors)).cells["lr-plateau"]
    assert cell.settings.schedule["name"] == "constant"
    assert cell.settings.reduce_lr_on_plateau is not None


def test_split_fractions_must_add_up_to_one():
    dataset = {**DATASET, "split": {"train": 0.7, "validation": 0.2, "test": 0.2}}
    with pytest.raises(ConfigError, match=r"dataset\.split.*must be 1, not 1\.1"):
        resolve_study(study_config(dataset=dataset))


def test_schema_problem_names_the_key_and_the_allowed_keys():
    from ablate.config import schema_problem

    config = study_config(base={**BASE, "epoch": 3})
    problem = schema_problem(config)
    assert "key 'base'" in problem and "'epoch' was unexpected" in problem
    assert "Allowed keys here: model, augmentation, optimizer," in problem
    assert "batch_size, epochs." in problem
    assert schema_problem(study_config()) is None
    assert "key 'seeds.1'" in schema_problem(study_config(seeds=[1, "x"]))


def test_yaml_booleans_as_level_names_get_a_hint():
    from ablate.config import schema_problem

    config = yaml.safe_load("baseline: {cutmix: off}")
    problem = schema_problem(study_config(baseline=config["baseline"]))
    assert "key 'baseline.cutmix'" in problem and "quote such names" in problem


def test_a_retried_train_job_asks_for_more_time_when_the_config_says_so():
    from ablate.config import runtime_minutes
    from ablate.settings import Resources

    growing = Resources(cpus=1, mem_mb=1000, runtime=90, runtime_growth=1.5)
    assert [runtime_minutes(growing, attempt) for attempt in (1, 2, 3)] == [90, 135, 203]
    steady = Resources(cpus=1, mem_mb=1000, runtime=90, runtime_growth=1)
    assert runtime_minutes(steady, 3) == 90


def test_a_boolean_given_as_text_on_the_command_line_gets_a_hint():
    from conftest import default_config

    from ablate.config import schema_problem

    config = {**default_config(), "partial": "true"}  # what `--config partial=true` gives
    problem = schema_problem(config)
    assert "key 'partial'" in problem and "--config key=True" in problem


def test_adaptive_seeds_give_rounds_of_new_seed_numbers():
    study = resolve_study(study_config(seeds={"min": 2, "max": 7, "step": 2}))
    assert study.rounds == [[1, 2], [3, 4], [5, 6], [7]]  # the last round is cut at max
    assert study.seeds == [1, 2, 3, 4, 5, 6, 7] and study.adaptive
    fixed = resolve_study(study_config(seeds=[5, 3]))
    assert fixed.rounds == [[5, 3]] and not fixed.adaptive


@pytest.mark.parametrize(
    "seeds, message",
    [
        ({"min": 1, "max": 4, "step": 2}, "config key 'seeds.min': 1 is less than the minimum"),
        ({"min": 2, "max": 4}, "config key 'seeds': 'step' is a required property"),
        ({"min": 4, "max": 2, "step": 1}, "config key 'seeds': max (2) is below min (4)"),
    ],
)
def test_a_wrong_adaptive_seed_setting_is_named(seeds, message):
    with pytest.raises(ConfigError) as error:
        resolve_study(study_config(seeds=seeds))
    assert message in str(error.value)


def test_adaptive_seeds_need_the_baseline_cell_in_the_design():
    config = study_config(seeds={"min": 2, "max": 4, "step": 2}, design="list",
                          cells=[{"augmentation": "geometric"}])  # fmt: skip
    with pytest.raises(ConfigError, match="leaves out; give a list of seeds"):
        resolve_study(config)
    config["cells"].append({})  # the baseline: every factor at its first level
    assert resolve_study(config).adaptive


@pytest.mark.parametrize(
    ("dataset", "message"),
    [
        ({"split": {"by": "lists", "train": 0.5}, "labels": {"from": "split_folders"}},
         "config key 'dataset.split': by 'lists' takes its train and test from the lists."),
        ({"split": {"by": "counts", "train": 5}},
         "config key 'dataset.split': by 'counts' needs validation, test."),
        ({"split": {"by": "counts", "train": 5, "validation": 2.0, "test": 3}},
         "config key 'dataset.split.validation': by 'counts' takes a count, not 2.0."),
        ({"split": {"by": "ranges", "train": 5, "validation": [1, 2], "test": [3, 4]}},
         "config key 'dataset.split.train': by 'ranges' takes [start, stop], not 5."),
        ({"split": {"by": "ranges", "train": [0, 10], "validation": [10, 10], "test": [20, 30]}},
         "config key 'dataset.split.validation': [start, stop] needs start < stop."),
        ({"split": {"by": "ranges", "train": [0, 10], "validation": [10, 20], "test": [20, 30]},
          "max_per_class": 5},
         "config key 'dataset.max_per_class': not with split by 'ranges'."),
        ({"source": "url:https://example.org/a.zip"},
         "config key 'dataset.sha256': a 'url:' source needs the SHA-256 of its archive "
         "(`sha256sum FILE`), and other sources take none."),
        ({"split": {"by": "lists", "test": 0.5}, "labels": {"from": "split_folders"}},
         "config key 'dataset.split': by 'lists' takes its train and test from the lists."),
        ({"split": {"train": 1, "validation": 0.15, "test": 0.15}},
         "config key 'dataset.split.train': by 'fractions' takes a share in (0, 1), not 1."),
        ({"labels": {"from": "file_name"}},
         "config key 'dataset.labels.pattern': needed with from: file_name."),
        ({"labels": {"from": "split_lists"}},
         "config key 'dataset.labels.lists': needed with from: split_lists."),
        ({"labels": {"from": "file_name", "pattern": r"(?P<animal>cat|dog)\.\d+\.jpg"}},
         "config key 'dataset.labels.pattern': needs a group named class, as in "
         r"'(?P<class>cat|dog)\.\d+\.jpg'."),
        ({"source": "builtin:nosuch"}, "config key 'dataset.source': "),
    ],
    ids=["lists", "missing", "count", "range", "empty-range", "max-per-class", "sha256",
         "lists-test", "share", "pattern", "lists-file", "class-group", "source"],
)  # fmt: skip
def test_a_split_or_source_that_cannot_work_is_named_by_its_key(dataset, message):
    with pytest.raises(ConfigError) as error:
        resolve_study(study_config(dataset={**DATASET, **dataset}))
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
    if "source" not in dataset:
        assert str(error.value) == message


def test_an_image_size_too_small_is_named_where_the_model_is_set_base_level_or_cell():
    """Each place names itself: the base, a level's patch, or a cell where two levels that
    fit alone do not fit together."""

    def refused(image_size, factors):
        dataset = {**DATASET, "image_size": [image_size, image_size]}
        with pytest.raises(ConfigError) as error:
            resolve_study(study_config(dataset=dataset, factors=factors))
        return str(error.value).removeprefix("config key 'dataset.image_size': ")

    valid = {"model": {"padding": "valid", "filters": [4, 8]}}  # at least 10x10
    assert refused(8, {"p": {"valid": valid}}).startswith(
        "[8, 8] is smaller than the 10x10 that 'factors.p.valid.model' (small_convnet) takes"
    )
    assert refused(4, {}).startswith("[4, 4] is smaller than the 8x8 that 'base.model'")
    factors = {"p": {"same": {}, "valid": valid},
               "depth": {"two": {}, "three": {"model": {"filters": [4, 4, 4]}}}}  # fmt: skip
    assert refused(16, factors).startswith(
        "[16, 16] is smaller than the 22x22 that 'cell p-valid__depth-three.model'"
    )


def test_the_split_and_labels_are_the_same_params_written_out_or_left_to_defaults():
    written = resolve_study(study_config(dataset={
        "source": "builtin:digits",
        "split": {"train": 0.7, "validation": 0.15, "test": 0.15, "seed": 0, "by": "fractions"},
        "labels": {"root": "", "from": "folders"},
    })).dataset  # fmt: skip
    defaults = resolve_study(study_config(dataset={"source": "builtin:digits"})).dataset
    assert repr(written.split) == repr(defaults.split)
    assert repr(written.labels) == repr(defaults.labels) == "{'from': 'folders', 'root': ''}"
    listed = resolve_study(study_config(dataset={
        "source": "builtin:digits",
        "labels": {"from": "split_lists", "lists": {"train": "a.txt", "test": "b.txt"}},
    })).dataset  # fmt: skip
    assert listed.labels["suffix"] == "" and listed.split["by"] == "lists"


QUOTE = "; quote it as written, e.g. '{}', in factors, baseline and cells alike."
BOOLEAN = "a boolean (unquoted on/off/yes/no/true/false)"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"factors": {"aug": {True: {}, "x": {}}}},
         f"config key 'factors.aug': YAML reads the level name on as {BOOLEAN}"
         + QUOTE.format("on")),
        ({"factors": {"aug": {None: {}}}},
         "config key 'factors.aug': YAML reads the level name null as null" + QUOTE.format("null")),
        ({"factors": {1.5: {"a": {}}}},
         "config key 'factors': YAML reads the factor name 1.5 as the number 1.5"
         + QUOTE.format("1.5")),
        ({"factors": {False: {"a": {}}}},
         f"config key 'factors': YAML reads the factor name off as {BOOLEAN}"
         + QUOTE.format("off")),
        ({"factors": {"aug": {"a": {}}}, "baseline": {"aug": False}},
         f"config key 'baseline.aug': YAML reads the level name off as {BOOLEAN}"
         + QUOTE.format("off")),
        ({"factors": {"aug": {"a": {}}}, "cells": [{"aug": "a"}, {"aug": 2}]},
         "config key 'cells[1].aug': YAML reads the level name 2 as the number 2"
         + QUOTE.format("2")),
        ({"factors": {"aug": {"a": {}}}, "cells": [{None: "a"}]},
         "config key 'cells[0]': YAML reads the factor name null as null" + QUOTE.format("null")),
        ({"factors": {"aug": {"a": {}}}, "baseline": {"aug": False}, "cells": [{"aug": "a"}]},
         f"config key 'baseline.aug': YAML reads the level name off as {BOOLEAN}"
         + QUOTE.format("off")),
    ],
    ids=["level-on", "level-null", "factor-number", "factor-off", "baseline", "cell-level",
         "cell-factor", "baseline-and-cells"],
)  # fmt: skip
def test_names_yaml_reads_as_other_types_are_named_where_they_stand(config, message):
    from ablate.design import check_level_names

    with pytest.raises(ConfigError) as error:
        check_level_names(config)
    assert str(error.value) == message


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda d: d.check_design_keys({"resolution": 4}),
         "config key 'resolution': only with design 'fractional', not 'full'; remove it or set "
         "design: fractional."),
        (lambda d: d.check_design_keys({"design": "fractional"}),
         "config key 'resolution': design 'fractional' needs resolution 3, 4 or 5 (3: fewest "
         "runs, main effects aliased with interactions; 5: none aliased)."),
        (lambda d: d.expand_design(THREE, "fractional", d.baseline_levels(THREE, {}), None, 4),
         "config key 'factors.a': design 'fractional' needs exactly two levels per factor, 'a' "
         "has 3 (x, y, z); split it into two-level factors or use design 'full'."),
        (lambda d: d.expand_design(THREE, "list", d.baseline_levels(THREE, {}), [], None),
         "config key 'cells': design 'list' needs at least one cell."),
        (lambda d: d.expand_design(THREE, "nosuch", d.baseline_levels(THREE, {}), None, None),
         "config key 'design': unknown design 'nosuch'; use full, one-at-a-time, list, "
         "fractional, screening."),
        (lambda d: d.seed_rounds({"min": 2, "max": 4, "step": 2}, "base", ["other"]),
         "config key 'seeds': adaptive seeds compare every cell with the baseline cell 'base', "
         "which this design leaves out; give a list of seeds, or a design that includes the "
         "baseline (key 'baseline' chooses it)."),
    ],
    ids=["resolution-full", "resolution-missing", "three-levels", "empty-list", "design",
         "no-baseline"],
)  # fmt: skip
def test_design_mistakes_say_what_to_do(call, message):
    import ablate.design

    with pytest.raises(ConfigError) as error:
        call(ablate.design)
    assert str(error.value) == message


THREE = {"a": {"x": {}, "y": {}, "z": {}}, "b": {"p": {}, "q": {}}}


def test_names_are_checked_only_where_the_schema_will_find_mappings():
    from ablate.design import check_level_names

    check_level_names({"factors": {"aug": None, "b": [True]}, "cells": [None]})  # the schema's


@pytest.mark.parametrize(
    ("factors", "message"),
    [({"aug": {"a": {}, "b": {}}, "reg": {"x": {}}},
      "config key 'baseline.augm': no factor named 'augm'; factors are: aug, reg."),
     ({}, "config key 'baseline.augm': no factor named 'augm'; factors are: none.")],
)  # fmt: skip
def test_a_baseline_naming_an_unknown_factor_lists_the_factors(factors, message):
    with pytest.raises(ConfigError) as error:
        baseline_levels(factors, {"augm": "a"})
    assert str(error.value) == message


def test_adaptive_seeds_with_min_equal_to_max_are_one_round():
    from ablate.design import seed_rounds

    assert seed_rounds({"min": 2, "max": 2, "step": 1}, "base", ["base"]) == [[1, 2]]


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        ({"runs_per_gpu": 0}, "'resources.runs_per_gpu': 0 is less than the minimum of 1"),
        ({"runs_per_gpu": 1.5}, "'resources.runs_per_gpu': 1.5 is not of type 'integer'"),
        ({"gpu_memory_mb": 100}, "'resources.gpu_memory_mb': 100 is less than the minimum of 256"),
    ],
)  # fmt: skip
def test_a_wrong_gpu_sharing_setting_is_named(resources, message):
    with pytest.raises(ConfigError) as error:
        resolve_study(study_config(resources=resources))
    assert f"config key {message}" in str(error.value)


def test_gpu_sharing_defaults_to_whole_gpus_with_memory_growing():
    resources = resolve_study(study_config()).resources
    assert (resources.runs_per_gpu, resources.gpu_memory_mb) == (1, None)
    shared = resolve_study(study_config(resources={"runs_per_gpu": 4, "gpu_memory_mb": 4000}))
    assert (shared.resources.runs_per_gpu, shared.resources.gpu_memory_mb) == (4, 4000)
