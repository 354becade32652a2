"""Fast starts: ``fer-train --help`` imports no command, no command's parser imports torch
(seconds), the help texts read as text (no reST), and the command list's summaries are the
commands' own. Timings themselves are in bench/startup.py (a loaded machine makes them noisy)."""

from __future__ import annotations

import json
import subprocess
import sys

from trainer import cli

# Seconds to import each (torch and what needs it); Qt has no business in the command lines.
HEAVY = ("torch", "torchvision", "timm", "facenet_pytorch", "PySide6")


def _modules_after(code: str) -> set[str]:
    probe = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_top_level_help_imports_no_command_and_no_numpy():
    loaded = _modules_after("import contextlib, io\nfrom trainer import cli\n"
                            "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
                            "    cli.main(['--help'])")
    assert not {m for m in loaded if m.startswith("trainer.commands.")}
    assert not loaded & {"numpy", "cv2", *HEAVY}


def test_no_command_parser_imports_torch():
    code = "from trainer import cli\n" + "".join(f"cli.build_parser({name!r})\n" for name in cli.COMMANDS)
    code += "import fer_desktop.cli_predict as p\np.build_parser()\n"
    loaded = _modules_after(code)
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_summaries_are_the_commands_own_help():
    parser = cli.build_parser()  # every module, as before
    sub = next(a for a in parser._actions if isinstance(a, type(parser._subparsers._group_actions[0])))
    helps = {action.dest: action.help for action in sub._choices_actions}
    assert {name: cli.SUMMARIES.get(name) for name in cli.COMMANDS} == helps


def test_help_text_has_no_rest_markup():
    parser = cli.build_parser()
    for name, command in parser._subparsers._group_actions[0].choices.items():
        text = command.format_help()
        assert "``" not in text and "::\n" not in text, name
    assert cli.plain_help("``fer-train x``: y.\n\nExamples::\n\n    a\n") == "fer-train x: y.\n\nexamples:\n\n    a\n"


def test_version_is_the_package_version(capsys):
    import pytest

    from trainer.version import package_version

    with pytest.raises(SystemExit) as stop:
        cli.main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"fer-train {package_version()}"


def test_predict_on_a_cpu_loads_no_torch(tmp_path, astronaut_bgr):
    """``fer-desktop predict`` with the bundled model: BlazeFace + ONNX Runtime, no torch (the
    1.5 s import and ~800 MB that kept it over 5 s). The first use of a model makes its ONNX
    file, with torch; every later one does not."""
    import cv2
    import pytest

    from trainer.faces.detectors.registry import available_detectors
    from trainer.inference import default_model_path
    from trainer.inference.backends import gpu_possible, onnxruntime_installed
    from trainer.inference.onnx_cache import runtime_onnx
    from trainer.models.card import read_card

    if available_detectors()["blazeface"] or not onnxruntime_installed() or gpu_possible():
        pytest.skip("the torch-free path needs BlazeFace, ONNX Runtime and no GPU")
    runtime_onnx(default_model_path(), read_card(default_model_path()))  # once per model
    image = tmp_path / "astronaut.png"
    cv2.imwrite(str(image), astronaut_bgr)
    out = tmp_path / "out.json"
    loaded = _modules_after(
        "import contextlib, io\nfrom fer_desktop.__main__ import main\n"
        f"with open({str(out)!r}, 'w') as fh, contextlib.redirect_stdout(fh):\n"
        f"    assert main(['predict', {str(image)!r}, '--json']) == 0")
    doc = json.loads(out.read_text())
    assert doc["backend"] == "onnxruntime-cpu" and doc["images"][0]["faces"][0]["label"] == "happy"
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
