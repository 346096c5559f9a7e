"""HTML renderings of the study's tables for the report."""

import pandas as pd

from ablate.results.tables import interval, summary_digest, write_html


def test_interval_text_leaves_out_undefined_bounds():
    assert interval(0.91234, 0.9, 0.92) == "0.912 [0.900, 0.920]"
    assert interval(0.5, float("nan"), float("nan")) == "0.500"
    assert interval(float("nan"), 0.1, 0.2) == ""
    assert interval(0.5, float("nan"), 0.6) == interval(0.5, 0.4, float("nan")) == "0.500"


def test_summary_digest_puts_accuracy_difference_and_warnings_side_by_side():
    summary = pd.DataFrame(
        {
            "cell": ["a-none", "a-flip"], "a": ["none", "flip"], "baseline": [True, False],
            "n": [3, 2], "failed": [0, 1], "not_run": [0, 0], "test_accuracy_mean": [0.8, 0.85],
            "test_accuracy_ci_low": [0.75, 0.8], "test_accuracy_ci_high": [0.85, 0.9],
            "vs_baseline_difference": [float("nan"), 0.05],
            "vs_baseline_ci_low": [float("nan"), 0.01], "vs_baseline_ci_high": [float("nan"), 0.09],
            "vs_baseline_p_value": [float("nan"), 0.0312], "warnings": [float("nan"), "failed"],
            "vs_baseline_verdict": ["undecided", "undecided"],
            "vs_baseline_prob_improvement": [float("nan"), 0.75],
            "vs_baseline_advice": ["", "about 6 seeds would tell a 0.5-point difference"],
        }
    )  # fmt: skip
    digest = summary_digest(summary, ["a"])
    assert list(digest.columns[:2]) == ["a", "baseline"]
    assert digest["a"].tolist() == ["none", "flip"]
    assert digest["baseline"].tolist() == ["yes", ""]
    assert summary_digest(summary, [])["cell"].tolist() == ["a-none", "a-flip"]
    assert digest.loc[1, "test accuracy [95% CI]"] == "0.850 [0.800, 0.900]"
    assert digest.loc[1, "vs baseline [95% CI]"] == "0.050 [0.010, 0.090]"
    assert digest.loc[0, "vs baseline [95% CI]"] == ""
    assert digest["p"].tolist() == ["", "0.0312"]
    assert digest["verdict"].tolist() == ["", "undecided"]
    assert digest["P(improvement)"].tolist() == ["", "0.75"]
    assert digest.loc[1, "seed advice"].startswith("about 6 seeds")
    assert digest["warnings"].tolist() == ["", "failed"]
    assert digest["failed"].tolist() == [0, 1] and digest["seeds ok"].tolist() == [3, 2]
    assert "no result yet" not in digest  # a finished study: nothing left to run
    summary.loc[0, "not_run"] = 2  # a partial look: two seeds of the baseline to come
    assert summary_digest(summary, ["a"])["no result yet"].tolist() == [2, 0]
    assert "stopped because" not in digest  # a fixed design
    summary["rounds"], summary["stopped_because"] = [2, 1], ["the reference", "decided"]
    adaptive = summary_digest(summary, ["a"])
    assert adaptive["rounds"].tolist() == [2, 1]
    assert adaptive["stopped because"].tolist() == ["the reference", "decided"]
    # the look's repeated interval, and the header says so
    assert adaptive.loc[1, "vs baseline [95% repeated CI]"] == "0.050 [0.010, 0.090]"
    assert "vs baseline [95% CI]" not in adaptive


def test_html_page_escapes_text_and_marks_flagged_and_baseline_rows(tmp_path):
    table = pd.DataFrame({"cell": ["<b>x</b>", "y"], "accuracy": [0.123456, float("nan")]})
    path = tmp_path / "t.html"
    write_html(table, path, "Title & more", "How to read it.",
               flagged=pd.Series([False, True]), baseline=pd.Series([True, False]))  # fmt: skip
    page = path.read_text()
    assert "<title>Title &amp; more</title>" in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
    assert '<tr class="baseline"><td class="text">&lt;b&gt;x' in page
    assert '<tr class="flagged"><td class="text">y</td><td class="number"></td>' in page
    assert ">0.1235<" in page
    assert page.startswith("<!DOCTYPE html>\n<html><head><meta charset='utf-8'>")
    assert (
        '<thead><tr><th class="text">cell</th><th class="number">accuracy</th></tr></thead>' in page
    )
    assert "<tbody><tr" in page and "</tr><tr" in page  # rows one after the other
    assert "No rows." not in page
    write_html(table.iloc[:0], path, "Empty", "")
    assert "</p><p><em>No rows.</em></p><table>" in path.read_text()  # before the header


def test_long_texts_may_wrap_short_ones_not():
    from ablate.results.tables import _kind

    assert _kind(pd.Series(["x" * 61])) == "text wrap"
    assert _kind(pd.Series(["x" * 60, "y"])) == "text"
    assert _kind(pd.Series([1.5, 2.0])) == "number"


def test_a_text_page_shows_the_text_as_it_is(tmp_path):
    from ablate.results.tables import write_text_page

    write_text_page("study: <s>\n  a: 1\n", tmp_path / "c.html", "Config", "As run.")
    page = (tmp_path / "c.html").read_text()
    assert "<title>Config</title>" in page and "<h1>Config</h1>" in page
    assert "<p class='note'>As run.</p><pre>study: &lt;s&gt;\n  a: 1\n</pre></body>" in page
