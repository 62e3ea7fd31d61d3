"""Two small demo pipelines that run on any backend: a séance and a CSV ETL."""

from necrostack.demos.etl import SAMPLE_CSV, etl_organs, etl_start
from necrostack.demos.runner import DEMOS, Demo, run_demo
from necrostack.demos.seance import seance_organs, seance_start

__all__ = [
    "DEMOS",
    "SAMPLE_CSV",
    "Demo",
    "etl_organs",
    "etl_start",
    "run_demo",
    "seance_organs",
    "seance_start",
]
