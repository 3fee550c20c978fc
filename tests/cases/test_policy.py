"""The policy table (`cases.policy`), and the rule that nothing else compares roles."""

import ast
import re
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template import Context, Template

from cases import policy
from cases.models import Case, Role
from cases.policy import ACTIONS, Allowed, UnknownAction, can, require, roles_that_may

ROOT = Path(__file__).resolve().parents[2]
# Where roles may be compared: the table, and the model that defines the roles.
ALLOWED = {ROOT / "cases" / "policy.py", ROOT / "cases" / "models.py"}
SCANNED = ("cases", "evidence", "api", "web", "config")
ROLE_VALUES = frozenset(Role.values)
MEMBERS = ("viewer", "reporter", "editor", "owner")


# --- Nothing but the policy compares roles --------------------------------------------------


def _mentions_a_role(node: ast.AST) -> bool:
    """Whether an operand of a comparison is a role: `Role.EDITOR`, `Role(x)`, "editor", or a
    tuple, list or set of them."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return node.value.id == "Role"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id == "Role"
    if isinstance(node, ast.Constant):
        return node.value in ROLE_VALUES
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(_mentions_a_role(element) for element in node.elts)
    return False


# Calls that may be handed a role: they store it or select rows by it (creating a case's owner,
# keeping a case's last owner), which decides nothing about what anyone may do.
STORES_A_ROLE = frozenset({"create", "filter", "exclude", "get", "get_or_create", "Membership"})


def _is_a_role(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "Role"
        and node.attr in Role.names
    )


def _callee(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def role_checks(source: str) -> list[tuple[int, str]]:
    """The role comparisons and role checks in a module's source, as (line, what)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and _callee(node) not in STORES_A_ROLE:
            # A role handed to a function is a check of one's own (`require_role(role=…)`);
            # a form's initial choice is not.
            handed = [arg for arg in node.args if _is_a_role(arg)] + [
                kw.value for kw in node.keywords if kw.arg != "initial" and _is_a_role(kw.value)
            ]
            if handed:
                found.append((node.lineno, f"hands Role.{handed[0].attr} to {_callee(node)}()"))
        if isinstance(node, ast.Compare):
            if any(_mentions_a_role(operand) for operand in [node.left, *node.comparators]):
                found.append((node.lineno, "compares a role"))
        elif isinstance(node, ast.Attribute) and node.attr in ("at_least", "rank"):
            found.append((node.lineno, f"uses Role.{node.attr}"))
        elif isinstance(node, ast.keyword) and node.arg and node.arg.startswith("role__"):
            found.append((node.value.lineno, f"filters on {node.arg}"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            # `list(Role).index(...)`, `sorted(..., key=list(Role).index)`: a rank of one's own.
            if node.func.id in ("list", "sorted", "enumerate") and any(
                isinstance(arg, ast.Name) and arg.id == "Role" for arg in node.args
            ):
                found.append((node.lineno, "ranks the roles"))
    return sorted(found)


def test_the_checker_finds_each_kind_of_role_check():
    source = """
if role.at_least(Role.EDITOR): pass
if membership.role == Role.OWNER: pass
if role in ("editor", "owner"): pass
if Role(role) != Role.VIEWER: pass
rank = role.rank
Membership.objects.filter(role__in=[Role.EDITOR, Role.OWNER])
order = list(Role).index(role)
require_role(user=actor, case=case, role=Role.EDITOR, action="see")
"""
    assert [line for line, _ in role_checks(source)] == [2, 2, 3, 4, 5, 6, 7, 8, 9]


def test_the_checker_lets_roles_be_assigned_validated_and_shown():
    source = """
Membership.objects.create(case=case, user=actor, role=Role.OWNER, added_by=actor)
role = forms.ChoiceField(choices=Role.choices, initial=Role.REPORTER)
rows = [(case, Role(roles[case.pk])) for case in cases]
if role == membership.role: pass
owners = Membership.objects.select_for_update().filter(case=case, role=Role.OWNER)
message = f"choose one of {', '.join(Role.values)}"
"""
    assert role_checks(source) == []


def test_no_role_is_compared_outside_the_policy_and_the_models():
    found = []
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path in ALLOWED:
                continue
            for line, what in role_checks(path.read_text()):
                found.append(f"{path.relative_to(ROOT)}:{line}: {what}")
    assert found == [], "Ask cases.policy (require, can) instead:\n" + "\n".join(found)


# Role flags a view might hand to a template, and role names a template might compare with.
TEMPLATE_ROLE_CHECK = re.compile(
    r"{%\s*(?:if|elif)\b[^%]*(?:\bis_editor\b|\bis_owner\b|\bis_reporter\b|\bcan_write\b"
    r"|[\"'](?:viewer|reporter|editor|owner)[\"'])[^%]*%}"
)


def test_no_template_decides_by_role():
    found = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in sorted((ROOT / "templates").rglob("*.html"))
        for match in TEMPLATE_ROLE_CHECK.finditer(path.read_text())
    ]
    assert found == [], "Ask `can` instead ({% if can.evidence.add %}):\n" + "\n".join(found)


def test_the_template_checker_finds_role_flags():
    text = '{% if is_editor %}x{% endif %}{% elif role == "owner" %}{% if can.claim.add %}'
    assert [m.group(0) for m in TEMPLATE_ROLE_CHECK.finditer(text)] == [
        "{% if is_editor %}",
        '{% elif role == "owner" %}',
    ]


def _actions_named(source: str) -> set[str]:
    """The actions a module names: `require(…, "x.y")`, `can(…, "x.y")`, `actions = {…}`."""
    named = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and _callee(node) in ("require", "can", "cases_where"):
            named |= {
                arg.value
                for arg in node.args
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            }
        elif isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "actions" for target in node.targets
        ):
            if isinstance(node.value, ast.Dict):
                named |= {v.value for v in node.value.values if isinstance(v, ast.Constant)}
    return named


def test_every_action_the_code_and_the_templates_name_is_in_the_table():
    named = {}
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for action in _actions_named(path.read_text()):
                named.setdefault(action, str(path.relative_to(ROOT)))
    for path in sorted((ROOT / "templates").rglob("*.html")):
        for action in re.findall(r"\bcan\.([a-z]+\.[a-z_]+)", path.read_text()):
            named.setdefault(action, str(path.relative_to(ROOT)))
    assert {a: where for a, where in named.items() if a not in ACTIONS} == {}
    # And no rule of the table is dead: something asks each one.
    assert set(ACTIONS) - set(named) == set()


# --- The table ------------------------------------------------------------------------------


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_every_action_has_a_role_and_one_sentence_naming_it(action):
    rule = ACTIONS[action]
    assert isinstance(rule.role, Role)
    assert re.fullmatch(r"[a-z]+\.[a-z_]+", action)
    assert rule.doing and rule.doing == rule.doing.strip()
    assert rule.refusal == f"To {rule.doing} you need the {rule.role.value} role in this case."
    assert rule.refusal.count(".") == 1  # one sentence


def test_the_table_holds_the_rules_the_readme_states():
    least = {action: rule.role.value for action, rule in ACTIONS.items()}
    assert least == {
        "case.see": "viewer",
        "case.update": "editor",
        "case.status": "owner",
        "member.manage": "owner",
        "source.add": "reporter",
        "source.edit": "reporter",
        "source.protect": "editor",
        "identity.see": "editor",
        "evidence.add": "reporter",
        "evidence.edit": "reporter",
        "evidence.move_protected": "editor",
        "evidence.reprocess": "reporter",
        "evidence.capture": "reporter",
        "work.assign": "reporter",
        "evidence.delete": "editor",
        "evidence.purge": "owner",
        "original.download": "editor",
        "link.add": "reporter",
        "link.edit": "reporter",
        "link.remove": "reporter",
        "comment.add": "reporter",
        "comment.edit": "reporter",
        "claim.add": "reporter",
        "claim.edit": "reporter",
        "claim.submit": "reporter",
        "claim.review": "editor",
        "export.see": "editor",
        "export.create": "editor",
        "export.download": "editor",
        "export.create_revealing": "owner",
        "export.download_revealing": "owner",
        "webhook.manage": "owner",
        "webhook.see": "owner",
        "import.run": "reporter",
    }
    # What a closed case still allows: reading, reopening it, and taking it out of Casefile.
    assert {action for action, rule in ACTIONS.items() if not rule.changes_case} == {
        "case.see",
        "case.status",
        "identity.see",
        "original.download",
        "export.see",
        "export.create",
        "export.download",
        "export.create_revealing",
        "export.download_revealing",
        "webhook.manage",
        "webhook.see",
    }
    # What a read-only API token may not do although the role may: every write.
    assert {action for action, rule in ACTIONS.items() if rule.writes} == {
        action for action, rule in ACTIONS.items() if rule.changes_case
    } | {"case.status", "export.create", "export.create_revealing", "webhook.manage"}


@pytest.mark.django_db
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_require_refuses_below_the_role_with_exactly_its_words_and_can_agrees(personas, action):
    rule = ACTIONS[action]
    for name in MEMBERS:
        user = personas.by_role(name)
        allowed = Role(name).at_least(rule.role)
        assert can(user, personas.case, action) is allowed, name
        assert can(Role(name), personas.case, action) is allowed, name
        assert can(name, None, action) is allowed, name
        assert (Role(name) in roles_that_may(action)) is allowed, name
        if allowed:
            assert require(user, personas.case, action) == Role(name)
        else:
            with pytest.raises(PermissionDenied) as refused:
                require(user, personas.case, action)
            assert str(refused.value) == rule.refusal


@pytest.mark.django_db
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_non_members_get_404_and_can_is_false(personas, action):
    with pytest.raises(Http404):
        require(personas.outsider, personas.case, action)
    assert can(personas.outsider, personas.case, action) is False
    assert can(None, personas.case, action) is False


@pytest.mark.django_db
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_a_closed_case_refuses_every_change_and_allows_the_rest(personas, action):
    case = Case.objects.get(pk=personas.case.pk)
    case.status = Case.Status.CLOSED
    case.save()
    owner = personas.owner
    if ACTIONS[action].changes_case:
        with pytest.raises(PermissionDenied) as refused:
            require(owner, case, action)
        assert str(refused.value) == "This case is closed: nothing in it can change."
        assert can(owner, case, action) is False
        # The API's permission class leaves the case's status to the services.
        assert require(owner, case, action, changes_case=False) == Role.OWNER
    else:
        assert require(owner, case, action) == Role.OWNER
        assert can(owner, case, action) is True


def test_an_unknown_action_is_an_error_not_a_refusal():
    with pytest.raises(UnknownAction):
        policy.rule("claim.aprove")
    with pytest.raises(UnknownAction):
        can(Role.OWNER, None, "claim.aprove")


@pytest.mark.django_db
def test_templates_ask_the_policy_through_can(personas):
    template = Template(
        "{% if can.claim.review %}review{% endif %}|{% if can.member.manage %}members{% endif %}"
    )
    answers = {
        name: template.render(Context({"can": Allowed(personas.by_role(name), personas.case)}))
        for name in MEMBERS
    }
    assert answers == {
        "viewer": "|",
        "reporter": "|",
        "editor": "review|",
        "owner": "review|members",
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "text", ["{% if can.claim.aprove %}{% endif %}", "{% if can.x.y %}{% endif %}"]
)
def test_a_template_asking_for_an_unknown_action_fails(personas, text):
    with pytest.raises(UnknownAction):
        Template(text).render(Context({"can": Allowed(personas.owner, personas.case)}))
