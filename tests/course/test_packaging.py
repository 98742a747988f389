"""The set-up files agree with each other: pyproject.toml, environment.yml, constraints.txt."""

import re

import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest itself depends on tomli there
    import tomli as tomllib

from ritm_lite.utils import PROJECT_ROOT


def _parse(requirement: str) -> tuple[str, str]:
    match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*$", requirement)
    assert match, requirement
    return match.group(1).lower().replace("_", "-"), match.group(2).replace(" ", "")


def _pyproject() -> dict:
    return tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())


def _constraints() -> dict[str, str]:
    lines = (PROJECT_ROOT / "constraints.txt").read_text().splitlines()
    return dict(_parse(line) for line in lines if line.strip() and not line.startswith("#"))


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = _pyproject()["project"]
    wanted = [project["dependencies"], *project["optional-dependencies"].values()]
    from_pyproject = dict(_parse(r) for group in wanted for r in group)
    env = yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip_section
    from_env = dict(_parse(r) for r in pip_section if r != "-e .")
    assert set(from_env) == set(from_pyproject)
    pins = _constraints()
    for name, spec in from_env.items():
        assert spec == (pins[name] if name in pins else from_pyproject[name]), name


def test_torch_is_loose_in_the_package_and_pinned_for_setup():
    deps = dict(_parse(r) for r in _pyproject()["project"]["dependencies"])
    assert deps["torch"].startswith(">=") and deps["torchvision"].startswith(">=")
    assert _constraints() == {"torch": "==2.14.1", "torchvision": "==0.29.1"}


def test_ci_runs_the_readme_test_command():
    readme = (PROJECT_ROOT / "README.md").read_text()
    ci = (PROJECT_ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make course" in readme
    assert ci.strip().splitlines()[-1] == "make test"


def test_public_names_resolve_and_the_converter_starts_without_torch():
    import subprocess
    import sys

    import ritm_lite

    for name in ritm_lite.__all__:
        assert getattr(ritm_lite, name) is not None
    code = "import sys, ritm_lite.data.coco_lvis; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT,
                         env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin"}, check=True)
    assert out.stdout.strip() == "False"
