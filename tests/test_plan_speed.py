"""The shortcuts that keep planning a large grid fast (issue 17) give what the plain way
gives: each settings key's values checked once per study (ablate.config._check_by_key) and
levels merged without copies (ablate.design.merge_shared)."""

from __future__ import annotations

import copy

import pytest
import yaml

import ablate.config
import ablate.schema
from ablate.config import ConfigError, check_settings, resolve_study
from ablate.design import deep_merge, merge_shared

BASE = {
    "model": {"name": "small_convnet", "dropout": 0.0, "filters": [4, 8]},
    "optimizer": {"name": "adam", "learning_rate": 0.001},
    "epochs": 2,
}
FACTORS = {
    "dropout": {f"d{i}": {"model": {"dropout": 0.1 * (i + 1)}} for i in range(3)},
    "width": {"narrow": {}, "wide": {"model": {"filters": [8, 16], "batch_norm": True}}},
    "optimizer": {
        "adam": {},
        "sgd": {"optimizer": {"name": "sgd", "momentum": 0.9}},
        "cosine": {"schedule": {"name": "cosine"}},
    },
    "mixing": {"none": {}, "mixup": {"mixing": {"name": "mixup"}, "augmentation": []}},
}


def config(**overrides):
    return {"study": "s", "dataset": {"source": "builtin:digits"}, "base": BASE,
            "factors": FACTORS, "seeds": [1], **overrides}  # fmt: skip


def test_every_cell_of_a_grid_is_what_checking_it_alone_gives():
    study = resolve_study(config())
    base = ablate.config.with_defaults(config())["base"]
    assert len(study.cells) == 3 * 2 * 3 * 2
    for name, cell in study.cells.items():
        settings = base
        for factor, level in cell.levels.items():
            settings = deep_merge(settings, FACTORS[factor][level])
        alone = check_settings(settings, f"cell {name}")
        assert cell.settings == alone, name
        # the same keys in the same order, down to the nested mappings (params.yaml)
        dump = yaml.safe_dump(cell.settings.as_dict(), sort_keys=False)
        assert dump == yaml.safe_dump(alone.as_dict(), sort_keys=False), name


def test_each_distinct_value_of_a_settings_key_is_checked_once(monkeypatch):
    calls = []
    check_value = ablate.config._check_value

    def counted(name, value):
        calls.append(name)
        return check_value(name, value)

    monkeypatch.setattr(ablate.config, "_check_value", counted)
    study = resolve_study(config())
    keys = len(ablate.schema.schema_part("$defs/settings")["properties"])
    # model: the base's and 3 dropouts x 2 widths; optimizer: adam, sgd; schedule: the
    # default and cosine; mixing and augmentation: none and mixup's; the rest: the default.
    assert len(calls) == keys + (1 + 3 * 2 - 1) + 1 + 1 + 1 + 1
    assert len(study.cells) == 36


def test_a_remembered_value_does_not_pass_one_of_another_type():
    checked = {}
    assert check_settings({**BASE, "epochs": 1}, "a", checked).epochs == 1
    with pytest.raises(ConfigError, match=r"^config key 'b\.epochs': True is not of type"):
        check_settings({**BASE, "epochs": True}, "b", checked)  # YAML's `yes`
    assert check_settings({**BASE, "augmentation": []}, "c", checked).augmentation == []
    with pytest.raises(ConfigError, match=r"^config key 'd\.augmentation'"):
        check_settings({**BASE, "augmentation": ()}, "d", checked)


@pytest.mark.parametrize(
    "settings",
    [BASE, {**BASE, "schedule": {"name": "cosine"}}, {**BASE, "reduce_lr_on_plateau": {}},
     {**BASE, "augmentation": [{"name": "random_flip"}], "mixing": {"name": "mixup"}}],
    ids=["sparse", "schedule", "plateau", "augmentation"],
)  # fmt: skip
def test_the_shortcut_itself_answers_settings_that_pass(settings):
    """Falling back to the whole check gives the same answer, only slower: so the shortcut
    is asked directly (keys left to their defaults, a schedule, a plateau under the
    constant rate, registry names)."""
    fast = ablate.config._check_by_key(settings, {})
    assert fast is not None and fast == check_settings(settings, "x")


def test_the_shortcut_leaves_a_clash_between_keys_to_the_whole_check():
    clash = {**BASE, "reduce_lr_on_plateau": {}, "schedule": {"name": "cosine"}}
    assert ablate.config._check_by_key(clash, {}) is None


def test_values_of_the_same_shape_are_remembered_apart():
    checked = {}
    narrow = check_settings(BASE, "a", checked)
    wide = check_settings({**BASE, "model": {**BASE["model"], "filters": [8, 16]}}, "b", checked)
    assert (narrow.model["filters"], wide.model["filters"]) == ([4, 8], [8, 16])


def test_a_clash_between_levels_is_named_with_its_cell():
    factors = {"schedule": {"flat": {}, "cosine": {"schedule": {"name": "cosine"}}},
               "plateau": {"off": {}, "on": {"reduce_lr_on_plateau": {}}}}  # fmt: skip
    with pytest.raises(
        ConfigError,
        match=r"^config key 'cell schedule-cosine__plateau-on\.reduce_lr_on_plateau': needs "
        r"schedule 'constant', not 'cosine'",
    ):
        resolve_study(config(factors=factors))


def test_a_bad_value_is_refused_in_a_cell_whose_other_keys_were_checked_already():
    factors = {"width": FACTORS["width"], "batch": {"some": {}, "none": {"batch_size": 0}}}
    with pytest.raises(ConfigError, match=r"^config key 'factors\.batch\.none\.batch_size'"):
        resolve_study(config(factors=factors))


def test_checking_settings_fills_in_copies_not_the_given_mappings():
    checked = {}
    settings = {**BASE, "mixing": {"name": "mixup"}}
    kept = copy.deepcopy(settings)
    for key in ("a", "b"):  # checked, then remembered
        filled = check_settings(settings, key, checked)
        assert filled.mixing == {"name": "mixup", "probability": 1}
    assert settings == kept


def test_merge_shared_gives_what_deep_merge_gives_and_changes_neither_side():
    base = {"model": {"name": "m", "filters": [1, 2], "head": {"units": 8}}, "epochs": 3}
    for patch in ({"model": {"filters": [4], "head": {"units": 4}}, "epochs": 5},
                  {"model": {"name": "other"}}, {}, None):  # fmt: skip
        before = copy.deepcopy((base, patch))
        assert merge_shared(base, patch) == deep_merge(base, patch)
        assert (base, patch) == before
