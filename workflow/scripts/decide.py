"""After one round of an adaptive study: which cells are decided, which train more seeds."""

import json
from pathlib import Path

from ablate.logs import log_to
from ablate.results.aggregate import collect_runs
from ablate.results.outcomes import collect_outcomes
from ablate.results.sequential import decide_round

params, inputs = snakemake.params, snakemake.input
with log_to(snakemake.log[0]) as log:
    runs = collect_runs(snakemake.wildcards.study, params.runs, inputs.train, inputs.test)
    outcomes = collect_outcomes(runs, params.runs, inputs.predictions)
    previous = json.loads(Path(inputs.previous[0]).read_text()) if inputs.previous else {}
    decision = decide_round(runs, outcomes, params.baseline, params.min_effect,
                            previous.get("cells", {}), int(snakemake.wildcards.round),
                            params.looks, params.futility)  # fmt: skip
    Path(snakemake.output.decision).write_text(json.dumps(decision, indent=2) + "\n")
    for cell, state in decision["cells"].items():
        log.info("%s: %s, %s", cell, state["state"], state["why"])
    log.info("next round: %s", ", ".join(decision["next"]) or "none, the study is decided")
