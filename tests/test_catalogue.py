"""The catalogue of data kinds is the one place for each kind's facts: the README's table is its
rendering, every ``include`` name of the request schema selects a kind, and the erase steps the
orchestration records are the ones the certificate counts."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from shared import catalogue
from shared.dsr_request import ALL_KINDS
from shared.erase import finalize
from shared.export import report
from shared.orchestration import erase

README = (Path(__file__).parents[1] / "README.md").read_text()


def test_the_readme_table_is_the_catalogue() -> None:
    assert catalogue.markdown_table() in README, "README 'Data kinds': paste shared.catalogue.markdown_table()"


def test_every_include_name_selects_a_kind_and_every_kind_an_include_name() -> None:
    includes = {kind.include for kind in catalogue.KINDS}
    assert includes == set(ALL_KINDS)
    assert len(catalogue.BY_COUNTER) == len(catalogue.KINDS), "one counter per kind"


def _string_literals(module: object) -> set[str]:
    tree = ast.parse(inspect.getsource(module))  # type: ignore[arg-type]
    return {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def test_erase_step_names_are_spelled_only_in_the_catalogue() -> None:
    """A step renamed in the orchestration and not in the certificate's counts would zero them."""
    names = {step.value for step in catalogue.EraseStep}
    for module in (erase, finalize):
        assert not names & _string_literals(module), module.__name__


def test_the_report_shows_counts_in_the_catalogue_order() -> None:
    counts = {"predictions": 1, "zz_unknown": 2, "images": 3, "projects": 4, "image_files": 5}
    assert [name for name, _ in report.in_catalogue_order(counts)] == [
        "projects",
        "images",
        "image_files",
        "predictions",
        "zz_unknown",
    ]


def test_every_kind_counts_under_a_catalogue_counter() -> None:
    assert {kind.counter for kind in catalogue.KINDS} <= set(catalogue.Count)
    extra = set(catalogue.Count) - {kind.counter for kind in catalogue.KINDS}
    assert extra == {"tagged_images", "untagged_images", "iteration_images"}, "image counts the API gives apart"
