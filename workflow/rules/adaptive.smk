# Adaptive seeds: after each round, compare the cells that were open with the baseline at
# this look's group-sequential threshold; the decision names the cells of the next round.
# A checkpoint: Snakemake plans the next round's train jobs once the decision exists.
checkpoint decide:
    input:
        train=run_paths(paths.TRAIN_SUMMARY, last=decided_round),
        test=run_paths(paths.TEST_METRICS, last=decided_round),
        predictions=run_paths(paths.PREDICTIONS, last=decided_round),
        previous=previous_decision,
    output:
        decision=paths.ROUND,
    log:
        paths.log("decide", per="round"),
    conda:
        "../../envs/ablate.yaml"
    params:
        runs=decided_runs,
        baseline=STUDY.baseline,
        # only the checks a decision uses: changing another rerun no round
        min_effect=STUDY.checks.min_effect,
        futility=STUDY.checks.futility,
        looks=LOOKS,
    script:
        "../scripts/decide.py"
