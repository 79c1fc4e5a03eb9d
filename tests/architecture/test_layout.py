"""The architecture's rules, checked on the sources: light imports, no reach into another
package's private modules, one resolution table, one message for a missing extra."""

from __future__ import annotations

import ast
import io
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("synth", "evalkit", "mcc_core", "mcc_cli", "mcc_app")
HEAVY = ("tensorflow", "keras", "streamlit", "onnxruntime", "torch")


def _sources() -> list[Path]:
    files = [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]
    return files + [ROOT / "streamlit_app.py", *sorted((ROOT / "benchmarks").glob("*.py"))]


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def test_the_packages_import_without_tensorflow():
    code = ("import synth, evalkit, mcc_core, mcc_cli; import sys; "
            "assert 'tensorflow' not in sys.modules")
    result = _run(code)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("argv", [["--help"], ["synth", "--help"], ["extract", "--help"],
                                  ["scan", "--help"], ["probe", "--help"]])
def test_help_and_the_numpy_commands_start_without_heavy_imports(argv):
    code = (f"import sys\nfrom mcc_cli import main\ntry:\n    main({argv!r})\n"
            "except SystemExit:\n    pass\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    result = _run(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_tensorflow_free_names_of_mcc_core_stay_tensorflow_free():
    code = ("import sys, mcc_core\n"
            "for name in ('load_patch_folder', 'extract_patches', 'extract_dataset', "
            "'read_annotations', 'ScanResult', 'load_mammogram_set', 'AnnotatedMammogram'):\n"
            "    getattr(mcc_core, name)\n"
            "assert 'tensorflow' not in sys.modules, 'tensorflow'\n"
            "mcc_core.build_shallow_cnn\nassert 'tensorflow' in sys.modules")
    result = _run(code)
    assert result.returncode == 0, result.stderr


def test_every_public_name_of_mcc_core_resolves():
    import mcc_core

    missing = [name for name in mcc_core.__all__ if getattr(mcc_core, name, None) is None]
    assert missing == [] and len(mcc_core.__all__) > 50
    rooms = ("models", "training", "scanning", "explain")
    names: set[str] = set()
    for room in rooms:
        sub = getattr(mcc_core, room)
        names |= set(sub.__all__)
        for name in sub.__all__:  # the top level re-exports the room's object itself
            assert getattr(mcc_core, name) is getattr(sub, name), (room, name)
    assert set(mcc_core.__all__) == names | set(rooms)


_BLOCK_TF = ("import sys\nfor m in ('tensorflow', 'keras', 'keras_tuner', 'tensorboard'):\n"
             "    sys.modules[m] = None\n")


def test_a_command_without_the_tf_extra_names_it_in_one_line(tmp_path):
    code = (_BLOCK_TF + "from mcc_cli import main\nsys.exit(main(['train', '--model', "
            f"'shallow', '--resolution', '100', '--data', 'synthetic', '--epochs', '1', "
            "'--batch-size', '16', '--out', "
            f"{str(tmp_path / 'run')!r}]))")
    result = _run(code)
    assert result.returncode == 2
    assert result.stderr.strip() == ("mcc train: needs the 'tf' extra: "
                                     "pip install 'mcc-toolkit[tf]'")
    assert not (tmp_path / "run").exists()


def test_the_library_without_the_tf_extra_raises_missing_extra():
    code = (_BLOCK_TF + "import evalkit, mcc_core\nmcc_core.load_patch_folder\n"
            "try:\n    mcc_core.build_shallow_cnn\nexcept evalkit.MissingExtraError as exc:\n"
            "    print(exc.extra, exc)\n")
    result = _run(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "tf needs the 'tf' extra: pip install 'mcc-toolkit[tf]'"


def test_synth_never_imports_a_framework():
    for path in sorted((ROOT / "synth").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.split(".")[0] in HEAVY for n in names), (path, names)


def test_no_module_imports_another_packages_private_modules():
    offences = []
    for path in _sources():
        own = path.relative_to(ROOT).parts[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            else:
                continue
            for module in modules:
                parts = module.split(".")
                if (parts[0] in PACKAGES and parts[0] != own
                        and any(p.startswith("_") for p in parts[1:])):
                    offences.append(f"{path.relative_to(ROOT)}: {module}")
    assert offences == []


def test_the_resolution_table_is_stated_once():
    """The 50/70/100 µm → 200/144/100 px map is `synth.patch_size_px`; no other code holds 144."""
    holders = []
    for path in _sources():
        tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
        if any(t.type == tokenize.NUMBER and t.string == "144" for t in tokens):
            holders.append(str(path.relative_to(ROOT)))
    assert holders == ["synth/_config.py"]


def test_every_package_ships_py_typed():
    for pkg in PACKAGES:
        assert (ROOT / pkg / "py.typed").is_file(), pkg
