"""`station submit`: a file is checked whole against the services' models before sending."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.submit import SubmitError, load_commands, register
from cli.submit_check import MAX_DEPTH, MAX_FILE_BYTES
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


def _refused(path: Path) -> list[tuple[int, str, str]]:
    with pytest.raises(SubmitError) as caught:
        load_commands(path)
    return [(p.line, p.where, p.message) for p in caught.value.problems]


def test_yaml_anchors_and_aliases_are_refused_naming_the_line(tmp_path: Path) -> None:
    anchored = """\
- type: mediation.report_dispute
  data:
    dispute_id: d-1
    source: walk_in
    category: family
    description: x
    parties: &who [{name: 雷女士, role: applicant}]
- type: mediation.report_dispute
  data: {dispute_id: d-2, source: walk_in, category: family, description: x, parties: *who}
"""
    [(line, where, message)] = _refused(_write(tmp_path, "a.yaml", anchored))
    assert (line, where) == (7, "file")
    assert "anchor &who" in message
    alias_only = anchored.replace("&who ", "")
    # an alias without its anchor is a YAML error, still refused by line
    assert _refused(_write(tmp_path, "b.yaml", alias_only))[0][0] == 9


def test_a_billion_laughs_file_is_refused_before_it_expands(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 9)]
    path = _write(tmp_path, "lol.yaml", "\n".join(lines) + "\n")
    assert path.stat().st_size < 1000, "a few hundred bytes that would expand to ~400 MB"

    [(line, _, message)] = _refused(path)

    assert (line, message) == (1, "YAML anchor &a0 not accepted: write the value out")


def test_a_file_past_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    one = {"type": "mediation.report_dispute", "data": DISPUTE}
    path = _write(tmp_path, "big.json", json.dumps([one]) + " " * MAX_FILE_BYTES)

    assert _refused(path) == [(0, "file", f"larger than {MAX_FILE_BYTES} bytes: split it")]


@pytest.mark.parametrize(
    ("name", "text"),
    [("deep.yaml", "[" * 1000 + "]" * 1000), ("deep.json", "[" * 100_000 + "]" * 100_000)],
)
def test_deep_nesting_is_refused(tmp_path: Path, name: str, text: str) -> None:
    [(_, where, message)] = _refused(_write(tmp_path, name, text))
    assert (where, message) == ("file", f"nested deeper than {MAX_DEPTH} levels")


def test_a_number_of_ten_thousand_digits_is_refused_not_a_crash(tmp_path: Path) -> None:
    for name in ("n.json", "n.yaml"):
        [(_, where, message)] = _refused(_write(tmp_path, name, "1" * 10_000))
        assert where == "file"
        assert message.startswith(("not JSON", "not YAML"))


def test_unknown_keys_are_refused_naming_the_key_and_its_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "extra.yaml",
        """\
- type: mediation.report_dispute
  corelationid: story-1
  data:
    dispute_id: d-1
    source: walk_in
    category: family
    description: x
    urgent: true
    parties:
      - name: 雷女士
        role: applicant
        telephone: "13800000011"
- type: outreach.register_household
  data:
    household_id: h-1
    block: block-01
    address: 1 Bridge Street
    members: [{name: 毛大爷, age: 81}]
""",
    )
    found = _refused(path)
    assert [(line, where) for line, where, _ in found] == [
        (2, "commands[0].corelationid"),
        (8, "commands[0].data.urgent"),
        (12, "commands[0].data.parties.0.telephone"),
    ]
    assert "did you mean correlationid?" in found[0][2]
    assert "did you mean urgency?" in found[1][2]
    assert "unknown key 'telephone'" in found[2][2]


def test_a_wrapper_with_another_key_than_commands_is_refused(tmp_path: Path) -> None:
    one = {"type": "mediation.report_dispute", "data": DISPUTE}
    path = _write(tmp_path, "w.yaml", json.dumps({"commands": [one], "comands": [one]}))

    [(_, where, message)] = _refused(path)

    assert where == "comands"
    assert message.startswith("unknown key")


def test_a_file_with_one_value_past_a_bound_is_refused_whole(tmp_path: Path) -> None:
    good = {"type": "mediation.report_dispute", "data": DISPUTE}
    long_name = {
        **DISPUTE,
        "dispute_id": "d-2",
        "parties": [{"name": "雷" * 65, "role": "applicant"}],
    }
    path = _write(
        tmp_path,
        "bound.json",
        json.dumps([good, {"type": "mediation.report_dispute", "data": long_name}], indent=2),
    )

    [(_, where, message)] = _refused(path)

    assert where == "commands[1].data.parties.0.name"
    assert "at most 64 characters" in message
