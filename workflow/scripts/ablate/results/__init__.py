"""From trained runs to answers: evaluation, metrics, aggregate, statistics, checks, tables
and figures."""
