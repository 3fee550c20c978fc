"""Run pip-audit over requirements.txt and judge its answer.

Fails (exit 1) when any pinned dependency has a known vulnerability: bump the pin, run the
tests, commit. A dependency pip-audit could not look up is listed; when it could look up none
at all (a machine whose network reaches the package index but not the vulnerability data),
that is said plainly, and fails only with AUDIT_STRICT=1, so that a deployment's own CI, which
does reach it, can insist on a real answer.
"""

import json
import os
import subprocess
import sys


def main() -> int:
    command = [
        os.path.join(os.path.dirname(sys.executable), "pip-audit"),
        "--requirement",
        "requirements.txt",
        # Every pin in requirements.txt is exact, transitive ones included: no resolver needed.
        "--no-deps",
        "--disable-pip",
        "--progress-spinner",
        "off",
        "--format",
        "json",
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600)  # noqa: S603
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        print(run.stdout, run.stderr, sep="\n", file=sys.stderr)
        print("pip-audit did not produce a report.", file=sys.stderr)
        return 1

    code, lines = judge(report, strict=os.environ.get("AUDIT_STRICT") == "1")
    print("\n".join(lines))
    return code


def judge(report: dict, *, strict: bool) -> tuple[int, list[str]]:
    """Turn pip-audit's JSON report into an exit code and the lines to print."""
    lines = []
    dependencies = report["dependencies"]
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if d.get("skip_reason")]
    audited = len(dependencies) - len(skipped)

    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            lines.append(
                f"VULNERABLE {dep['name']}=={dep['version']}: {vuln['id']} (fixed in: {fixed})"
            )
    lines.append(
        f"pip-audit: {len(dependencies)} pinned dependencies, {audited} audited, "
        f"{len(vulnerable)} with known vulnerabilities, {len(skipped)} not audited."
    )
    if vulnerable:
        return 1, lines
    if skipped and audited == 0:
        lines.append(
            "NOT AUDITED: the vulnerability data could not be reached from this machine, so "
            "nothing is known either way. Run `make audit` where it can be reached."
        )
        return (1 if strict else 0), lines
    for dep in skipped:
        lines.append(f"not audited: {dep['name']}: {dep['skip_reason']}")
    return (1 if skipped and strict else 0), lines


if __name__ == "__main__":
    sys.exit(main())
