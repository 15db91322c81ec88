"""``python -m access_checker``: the checker for support staff, maintainers and scripts.

Exit codes: 0 success (or a valid request), 1 an invalid request or policy, 2 a usage or I/O
error. Every error is one line on stderr that says what to do next.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from access_checker import request
from access_checker.assessment import Assessment, evaluate
from access_checker.policy import Policy, PolicyError, default_policy, load_policy

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


class _UsageError(Exception):
    """A usage or I/O problem: one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise _UsageError(f"{message} (see `python -m access_checker --help`)")


def _read_json(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise _UsageError(f"{path}: cannot read it ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise _UsageError(f"{path}: not UTF-8 text; save the file as UTF-8 JSON") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _UsageError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None


def _policy(path: str | None) -> Policy:
    if path is None:
        return default_policy()
    try:
        return load_policy(path)
    except PolicyError as exc:
        raise _UsageError(f"{path}: not a usable policy ({len(exc.problems)} problems; run `check-policy {path}`)") from None


def _print_assessment(assessment: Assessment) -> None:
    policy = assessment.policy
    data = assessment.to_json()
    if not assessment.signed_in:
        print("Level: not signed in (no subject in the claims)")
    else:
        where = ", ".join(policy.project(p).name for p in assessment.level_projects)
        print(f"Level: {policy.level(assessment.level).name} (in {where})")
    for project in policy.projects:
        print(f"  {project.name}: {policy.level(data['projects'][project.id]).name}")
    print("Features:")
    for verdict in assessment.features:
        mark = "yes" if verdict.allowed else "no "
        print(f"  [{mark}] {verdict.feature.title} (needs {policy.level(verdict.feature.level).name})")
    if assessment.evidence:
        print("Evidence:")
        for item in assessment.evidence:
            print(f"  {item.source} = {item.value} -> {item.level} in {item.project}: {item.why}")
    if assessment.ignored:
        print("Ignored:")
        for ignored in assessment.ignored:
            print(f"  {ignored.source} = {ignored.value}: {ignored.reason}")
    if assessment.options:
        print("Upgrade options:")
        for option in assessment.options:
            print(f"  {option.title}: {option.url or option.page}")


def _evaluate(args: argparse.Namespace) -> int:
    claims = _read_json(args.claims)
    assessment = evaluate(claims, _policy(args.policy))
    if args.json:
        print(json.dumps(assessment.to_json(), indent=2, ensure_ascii=False))
    else:
        _print_assessment(assessment)
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    problems = request.validate_document(_read_json(args.file), _policy(args.policy))
    for problem in problems:
        print(f"{problem.field}: {problem.message}", file=sys.stderr)
    if problems:
        return EXIT_INVALID
    print(f"{args.file}: valid upgrade request")
    return EXIT_OK


def _summary(args: argparse.Namespace) -> int:
    policy = _policy(args.policy)
    doc = _read_json(args.file)
    problems = request.validate_document(doc, policy)
    if problems:
        first = problems[0]
        raise _UsageError(f"{args.file}: not a valid request ({first.field}: {first.message}); run `validate` for all problems")
    print(request.summary_text(request.from_document(doc, policy), policy), end="")
    return EXIT_OK


def _schema(args: argparse.Namespace) -> int:
    print(json.dumps(request.json_schema(_policy(args.policy)), indent=2, ensure_ascii=False))
    return EXIT_OK


def _check_policy(args: argparse.Namespace) -> int:
    try:
        policy = load_policy(args.file)
    except PolicyError as exc:
        for problem in exc.problems:
            print(f"{args.file}: {problem}", file=sys.stderr)
        return EXIT_INVALID
    print(f"{args.file}: valid policy {policy.id} (version {policy.version}): "
          f"{len(policy.levels)} levels, {len(policy.features)} features, {len(policy.projects)} projects")
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m access_checker", description="The AI4OS access checker.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = commands.add_parser("evaluate", help="assess a claims JSON file")
    p.add_argument("--claims", required=True, help="claims JSON file ('-' for stdin)")
    p.add_argument("--policy", help="policy TOML file (default: the AI4OS policy)")
    p.add_argument("--json", action="store_true", help="print the assessment as JSON")
    p.set_defaults(run=_evaluate)

    p = commands.add_parser("validate", help="check an upgrade-request JSON file")
    p.add_argument("file")
    p.add_argument("--policy")
    p.set_defaults(run=_validate)

    p = commands.add_parser("summary", help="print a request as the text support reads")
    p.add_argument("file")
    p.add_argument("--policy")
    p.set_defaults(run=_summary)

    p = commands.add_parser("schema", help="print the request's JSON Schema")
    p.add_argument("--policy")
    p.set_defaults(run=_schema)

    p = commands.add_parser("check-policy", help="validate a policy file")
    p.add_argument("file")
    p.set_defaults(run=_check_policy)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        result: int = args.run(args)
        return result
    except _UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
