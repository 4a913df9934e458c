"""`station submit`: a file is checked whole against the services' models before sending."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.submit import SubmitError, load_commands, register
from cli.topics import intake_topic

DISPUTE = {
    "dispute_id": "d-1",
    "source": "walk_in",
    "category": "family",
    "parties": [{"name": "雷女士", "role": "applicant"}],
    "description": "家庭纠纷",
}


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_yaml_file_becomes_cloudevents_with_ids_subjects_and_correlation(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "c.yaml",
        """
- type: mediation.report_dispute
  data: {dispute_id: d-1, source: walk_in, category: family, description: x,
         parties: [{name: 雷女士, role: applicant}]}
- type: enterprise.declare_inventory
  id: my-id
  correlationid: story-7
  data: {enterprise_id: ent-1, cas: 78-93-3, movement: purchase, quantity_kg: 10000}
""",
    )
    first, second = load_commands(path)
    assert first.type == "mediation.report_dispute"
    assert first.subject == "d-1"
    assert first.correlationid == first.id
    assert first.source == "/intake/cli"
    assert first.time is not None
    assert first.data == {**DISPUTE, "description": "x"}
    assert (second.id, second.correlationid, second.subject) == ("my-id", "story-7", "ent-1")
    assert intake_topic(second.type) == "enterprise.intake"


def test_json_one_command_or_a_wrapped_list(tmp_path: Path) -> None:
    one = {"type": "mediation.report_dispute", "data": DISPUTE}
    assert len(load_commands(_write(tmp_path, "a.json", json.dumps(one)))) == 1
    wrapped = {"commands": [one, {**one, "id": "x2"}]}
    assert len(load_commands(_write(tmp_path, "b.json", json.dumps(wrapped)))) == 2


def test_every_problem_is_named_by_line_and_field(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "bad.yaml",
        """\
- type: enterprise.declare_inventory
  data:
    enterprise_id: ent-1
    cas: 78-93-3
    movement: purchase
    quantity_kg: lots
- type: enterprise.declare_inventroy
  data: {}
- type: mediation.report_dispute
  data:
    dispute_id: d-1
    source: walk_in
    category: family
    description: x
    parties:
      - name: 雷女士
        role: victim
- type: mediation.report_dispute
  data: {dispute_id: d-2, source: walk_in, category: family, description: x}
""",
    )
    with pytest.raises(SubmitError) as caught:
        load_commands(path)
    found = [(p.line, p.where) for p in caught.value.problems]
    assert found == [
        (6, "commands[0].data.quantity_kg"),
        (7, "commands[1].type"),
        (17, "commands[2].data.parties.0.role"),
        (19, "commands[3].data.parties"),
    ]
    assert "did you mean enterprise.declare_inventory?" in caught.value.problems[1].message
    assert f"{path}:6: commands[0].data.quantity_kg" in str(caught.value)


def test_a_json_file_gets_lines_too_and_broken_syntax_is_located(tmp_path: Path) -> None:
    text = json.dumps(
        [{"type": "mediation.report_dispute", "data": {**DISPUTE, "urgency": "very"}}], indent=2
    )
    with pytest.raises(SubmitError) as caught:
        load_commands(_write(tmp_path, "c.json", text))
    [problem] = caught.value.problems
    assert problem.where == "commands[0].data.urgency"
    assert text.splitlines()[problem.line - 1].strip().startswith('"urgency"')
    with pytest.raises(SubmitError) as broken:
        load_commands(_write(tmp_path, "d.json", '[\n  {"type": \n'))
    assert broken.value.problems[0].line == 3


def test_duplicate_ids_and_empty_files_are_refused(tmp_path: Path) -> None:
    one = {"type": "mediation.report_dispute", "id": "same", "data": DISPUTE}
    with pytest.raises(SubmitError, match="already used by commands\\[0\\]"):
        load_commands(_write(tmp_path, "e.json", json.dumps([one, one])))
    with pytest.raises(SubmitError, match="no commands"):
        load_commands(_write(tmp_path, "f.yaml", "# nothing\n"))
    with pytest.raises(SubmitError, match="a command must be a mapping"):
        load_commands(_write(tmp_path, "g.yaml", "- just text\n"))


def test_the_command_refuses_a_broken_file_with_exit_2_and_checks_a_good_one(
    tmp_path: Path,
) -> None:
    import typer

    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)
    bad = _write(tmp_path, "bad.yaml", "- type: mediation.report_dispute\n  data: {}\n")
    result = CliRunner().invoke(app, ["submit", str(bad), "--lang", "en"])
    assert result.exit_code == 2
    assert "refused, nothing was sent" in result.output
    assert "commands[0].data.dispute_id" in result.output
    good = _write(
        tmp_path,
        "good.json",
        json.dumps({"type": "mediation.report_dispute", "id": "c-1", "data": DISPUTE}),
    )
    result = CliRunner().invoke(app, ["submit", "--dry-run", str(good)])
    assert result.exit_code == 0, result.output
    assert "c-1" in result.output
    assert "校验通过 1 条指令" in result.output
