"""The study's tables and config as HTML pages for the Snakemake report, which can show HTML
and images but only offers CSV and YAML files for download."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

STYLE = """
body { font-family: system-ui, sans-serif; font-size: 13px; margin: 1em; color: #1e293b; }
h1 { font-size: 16px; }
p.note { max-width: 60em; color: #475569; }
table { border-collapse: collapse; }
th, td { padding: 3px 8px; border-bottom: 1px solid #e2e8f0; text-align: right; }
td { white-space: nowrap; }
td.wrap { white-space: normal; min-width: 24em; }
th { background: #f1f5f9; position: sticky; top: 0; }
td.text, th.text { text-align: left; }
tr.flagged td { background: #fef3c7; }
tr.baseline td { font-weight: 600; }
"""


def interval(mean: float, low: float, high: float, digits: int = 3) -> str:
    """'0.912 [0.897, 0.927]'; the mean alone where the interval is undefined (n < 2)."""
    if pd.isna(mean):
        return ""
    if pd.isna(low) or pd.isna(high):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def summary_digest(summary: pd.DataFrame, factors: Sequence[str]) -> pd.DataFrame:
    """What a reader compares first, one row per cell: test accuracy with its interval, the
    paired difference from the baseline with its verdict and seed advice, and the warnings
    (summary.csv holds the rest).
    Without factors the cell's name is all there is; with them, their levels say more."""
    rows = []
    for row in summary.to_dict("records"):
        difference = interval(
            row["vs_baseline_difference"],
            row["vs_baseline_ci_low"],
            row["vs_baseline_ci_high"],
        )
        rows.append(
            {
                **({factor: row[factor] for factor in factors} or {"cell": row["cell"]}),
                "baseline": "yes" if row["baseline"] else "",
                "seeds ok": row["n"],
                "failed": row["failed"],
                "no result yet": row["not_run"],
                "test accuracy [95% CI]": interval(
                    row["test_accuracy_mean"],
                    row["test_accuracy_ci_low"],
                    row["test_accuracy_ci_high"],
                ),
                # an adaptive study's interval is the repeated one of the look that stopped
                # the cell (95 % over all its looks together)
                f"vs baseline [95% {'repeated ' if 'stopped_because' in row else ''}CI]": (
                    "" if row["baseline"] else difference
                ),
                "verdict": "" if row["baseline"] else row["vs_baseline_verdict"],
                "P(improvement)": _number(row["vs_baseline_prob_improvement"]),
                "p": _number(_deciding_p(row)),
                "seed advice": _text(row["vs_baseline_advice"]),
                # an adaptive study: how many rounds of seeds the cell trained, and why not more
                **(
                    {"rounds": row["rounds"], "stopped because": _text(row["stopped_because"])}
                    if "stopped_because" in row
                    else {}
                ),
                "warnings": row.get("warnings") if isinstance(row.get("warnings"), str) else "",
            }
        )
    digest = pd.DataFrame(rows)
    # a finished study has nothing left to run: the column only speaks for a partial one
    if "no result yet" in digest and not digest["no result yet"].any():
        digest = digest.drop(columns="no result yet")
    return digest


def _deciding_p(row: dict) -> float:
    """The p-value the verdict was taken on: Holm-adjusted where the family was adjusted."""
    adjusted = row.get("vs_baseline_p_adjusted")
    return row["vs_baseline_p_value"] if adjusted is None or pd.isna(adjusted) else adjusted


def _number(value: float) -> str:
    return "" if pd.isna(value) else f"{value:.3g}"


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def write_html(
    table: pd.DataFrame,
    path: str | Path,
    title: str,
    note: str,
    flagged: pd.Series | None = None,
    baseline: pd.Series | None = None,
) -> None:
    """A self-contained page: title, how to read it, and the table; rows where ``flagged``
    is true are highlighted, the ``baseline`` row is bold."""
    kinds = [_kind(table[column]) for column in table]
    header = "".join(
        f'<th class="{kind}">{html.escape(str(column))}</th>'
        for column, kind in zip(table, kinds, strict=True)
    )
    body = []
    for index, row in enumerate(table.itertuples(index=False)):
        classes = []
        if flagged is not None and bool(flagged.iloc[index]):
            classes.append("flagged")
        if baseline is not None and bool(baseline.iloc[index]):
            classes.append("baseline")
        cells = "".join(
            f'<td class="{kind}">{html.escape(_format(value))}</td>'
            for value, kind in zip(row, kinds, strict=True)
        )
        body.append(f'<tr class="{" ".join(classes)}">{cells}</tr>')
    empty = "" if len(table) else "<p><em>No rows.</em></p>"
    content = f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    _write_page(path, title, note, empty + content)


def write_text_page(text: str, path: str | Path, title: str, note: str) -> None:
    """A self-contained page showing ``text`` (e.g. YAML) as it is."""
    _write_page(path, title, note, f"<pre>{html.escape(text)}</pre>")


def _write_page(path: str | Path, title: str, note: str, content: str) -> None:
    """The page around ``content``: the style, the title and how to read it."""
    Path(path).write_text(
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p class='note'>{html.escape(note)}</p>"
        f"{content}</body></html>\n"
    )


def _kind(column: pd.Series) -> str:
    """CSS class of a column: numbers align right; long texts (messages) may wrap."""
    if pd.api.types.is_numeric_dtype(column):
        return "number"
    return "text wrap" if column.astype(str).str.len().max() > 60 else "text"


def _format(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
