"""``.sops.yaml``: every ``secrets/*.enc.yaml`` has a creation rule with valid age recipients.

Recipients are public keys (``age1`` + 58 bech32 characters); a placeholder left
from the template is a warning so a fresh clone still passes, and an encrypted
file that no rule covers is an error (``sops -e`` would refuse it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

AGE_RECIPIENT = re.compile(r"^age1[02-9ac-hj-np-z]{58}$")


@dataclass
class SopsReport:
    path: Path
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rules: int = 0


def check_sops(root: Path) -> SopsReport:
    path = root / ".sops.yaml"
    report = SopsReport(path)
    if not path.is_file():
        report.errors.append(".sops.yaml is missing (secrets/*.enc.yaml need age recipients)")
        return report
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        report.errors.append(f"invalid YAML: {exc}")
        return report
    rules = doc.get("creation_rules") if isinstance(doc, dict) else None
    if not isinstance(rules, list) or not rules:
        report.errors.append("no creation_rules")
        return report
    compiled: list[re.Pattern[str]] = []
    placeholders: list[str] = []
    for index, rule in enumerate(rules):
        if not isinstance(rule, dict):
            report.errors.append(f"creation_rules[{index}] is not a mapping")
            continue
        report.rules += 1
        regex = rule.get("path_regex")
        try:
            compiled.append(re.compile(str(regex)))
        except re.error as exc:
            report.errors.append(f"creation_rules[{index}].path_regex {regex!r}: {exc}")
        recipients = _recipients(rule)
        if not recipients:
            report.errors.append(f"creation_rules[{index}] ({regex}) has no age recipients")
        for recipient in recipients:
            if AGE_RECIPIENT.match(recipient):
                continue
            if "<" in recipient or "replace" in recipient.lower():
                placeholders.append(str(regex))
            else:
                report.errors.append(f"creation_rules[{index}] ({regex}): {recipient!r} is not an age public key")
    if placeholders:
        report.warnings.append(
            f"{len(placeholders)} placeholder age recipient(s) remain in {len(set(placeholders))} rule(s): "
            "generate keys "
            "with `age-keygen` and put their public keys here before encrypting (secrets/README.md)"
        )
    for encrypted in sorted((root / "secrets").glob("*.enc.yaml")):
        relative = encrypted.relative_to(root).as_posix()
        if not any(p.search(relative) for p in compiled):
            report.errors.append(f"{relative} matches no creation rule")
        text = encrypted.read_text(encoding="utf-8")
        if "sops:" not in text or "ENC[" not in text:
            report.errors.append(f"{relative} is not SOPS-encrypted (run `sops -e -i {relative}`)")
    for plain in sorted((root / "secrets").glob("*.yaml")):
        if not plain.name.endswith(".enc.yaml"):
            report.errors.append(f"secrets/{plain.name}: only *.enc.yaml (encrypted) files belong in secrets/")
    return report


def _recipients(rule: dict[str, object]) -> list[str]:
    found: list[str] = []
    age = rule.get("age")
    if isinstance(age, str):
        found += [r.strip() for r in age.replace("\n", ",").split(",") if r.strip()]
    elif isinstance(age, list):
        found += [str(r).strip() for r in age if str(r).strip()]
    groups = rule.get("key_groups")
    if isinstance(groups, list):
        for group in groups:
            if isinstance(group, dict) and isinstance(group.get("age"), list):
                found += [str(r).strip() for r in group["age"]]
    return found
