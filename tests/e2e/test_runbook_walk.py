"""The RUNBOOK, walked: every local command of ``docs/RUNBOOK.md``, in order, on a fresh small lakehouse.

How the RUNBOOK marks its commands (its introduction says the same to readers):

* a fenced block tagged ```` ```bash local ```` holds commands for a laptop (the embedded
  engine, the lakehouse under ``.fin_mlops/<env>``); ```` ```bash databricks ```` and
  ```` ```sql ```` blocks need a workspace and are never run here. Every shell block carries
  one of the two tags, so a new command cannot slip past the walk untagged;
* one command per line (``\\`` continues it, a heredoc runs to its terminator); a trailing
  comment may say ``expect "text"`` (the output must contain it; repeatable),
  ``expect exit N`` (the exit code, 0 otherwise) or ``not walked: <reason>`` (the walk skips it,
  the reason is required).

The walk runs on ``dev``: the RUNBOOK writes on-call commands for ``prd`` and says "Replace
``prd`` by the env you are on", which the walk does. It runs in a temporary directory holding
the small configuration of the crash harness as ``project_config.yml`` (one short replay day,
five symbols), so ``.fin_mlops/dev`` is the lakehouse, exactly the paths the RUNBOOK names. The
RUNBOOK's own first local command (``fin-mlops --env dev run``) builds that lakehouse.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.crash import small_config

#: Shell block languages: each block in one of them must be tagged ``local`` or ``databricks``.
SHELL_LANGUAGES = frozenset({"bash", "sh", "shell", "console", "zsh"})
LOCAL, DATABRICKS = "local", "databricks"
#: The env the walk is on, and the word the RUNBOOK tells the reader to replace.
WALK_ENV, RUNBOOK_ENV = "dev", "prd"

_FENCE = re.compile(r"^(?P<indent>\s*)```(?P<info>.*)$")
_EXPECT_EXIT = re.compile(r"\bexpect exit (\d+)\b")
_EXPECT_TEXT = re.compile(r'\bexpect "([^"]+)"')
_NOT_WALKED = re.compile(r"\bnot walked:\s*(.*)$")
_HEREDOC = re.compile(r"<<-?\s*(['\"]?)(\w+)\1")
_ENV_WORD = re.compile(rf"(?<![A-Za-z0-9]){RUNBOOK_ENV}(?![A-Za-z0-9])")


class RunbookFormatError(ValueError):
    """docs/RUNBOOK.md breaks the marking rules; the message names the line."""


@dataclass(frozen=True)
class Step:
    """One local command of the RUNBOOK, with what it must do."""

    line: int  # 1-based line of the command in RUNBOOK.md
    section: str
    command: str
    expect_exit: int = 0
    expect: tuple[str, ...] = ()
    not_walked: str | None = None

    def where(self) -> str:
        return f"RUNBOOK.md:{self.line} ({self.section})"


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence
    section: str
    language: str
    tag: str | None  # local, databricks or None (sql, text, …)
    lines: tuple[str, ...]


def _comment_start(line: str) -> int | None:
    """Index of the ``#`` that starts a trailing comment (outside quotes, after a blank), else None."""
    quote: str | None = None
    escaped = False
    for i, ch in enumerate(line):
        if escaped:
            escaped = False
        elif ch == "\\" and quote != "'":
            escaped = True
        elif quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return i
    return None


def blocks(text: str) -> list[Block]:
    """Every fenced block, with its language, tag and section (the last ``## `` heading)."""
    out: list[Block] = []
    section = "(top)"
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line[3:].strip()
        fence = _FENCE.match(line)
        if fence is None:
            i += 1
            continue
        words = fence["info"].split()
        language = words[0] if words else ""
        tags = [w for w in words[1:] if w in (LOCAL, DATABRICKS)]
        if language in SHELL_LANGUAGES and len(tags) != 1:
            raise RunbookFormatError(
                f"RUNBOOK.md:{i + 1} ({section}): a ```{language} block must be tagged exactly one of "
                f"'{LOCAL}' or '{DATABRICKS}' (```{language} local), found {fence['info'].strip()!r}"
            )
        indent = len(fence["indent"])
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith("```"):
            body.append(lines[j][indent:] if lines[j][:indent].isspace() else lines[j].lstrip())
            j += 1
        if j == len(lines):
            raise RunbookFormatError(f"RUNBOOK.md:{i + 1} ({section}): code block never closed")
        out.append(Block(i + 1, section, language, tags[0] if tags else None, tuple(body)))
        i = j + 1
    return out


def steps(text: str) -> list[Step]:
    """The local commands in document order, with their annotations."""
    out: list[Step] = []
    for block in blocks(text):
        if block.tag != LOCAL:
            continue
        body = block.lines
        k = 0
        while k < len(body):
            start = k
            raw = body[k]
            k += 1
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
            parts: list[str] = []
            comments: list[str] = []
            line = raw
            while True:
                cut = _comment_start(line)
                code, comment = (line, "") if cut is None else (line[:cut], line[cut + 1 :])
                comments.append(comment)
                if code.rstrip().endswith("\\") and k < len(body):
                    parts.append(code.rstrip()[:-1].rstrip())
                    line = body[k]
                    k += 1
                    continue
                parts.append(code.strip())
                break
            command = " ".join(p for p in parts if p)
            heredoc = _HEREDOC.search(command)
            if heredoc is not None:
                doc: list[str] = []
                while k < len(body) and body[k].strip() != heredoc[2]:
                    doc.append(body[k])
                    k += 1
                if k == len(body):
                    raise RunbookFormatError(
                        f"RUNBOOK.md:{block.line + 1 + start}: heredoc {heredoc[2]} never terminated"
                    )
                command = "\n".join([command, *doc, heredoc[2]])
                k += 1
            note = " ".join(comments)
            line_no = block.line + 1 + start
            where = f"RUNBOOK.md:{line_no} ({block.section})"
            if command.split()[0] == "databricks":
                raise RunbookFormatError(f"{where}: a `databricks` command in a local block: tag it ```bash databricks")
            not_walked = _NOT_WALKED.search(note)
            if not_walked is not None and not not_walked[1].strip():
                raise RunbookFormatError(f"{where}: 'not walked:' needs a reason")
            exit_code = _EXPECT_EXIT.search(note)
            out.append(
                Step(
                    line=line_no,
                    section=block.section,
                    command=command,
                    expect_exit=int(exit_code[1]) if exit_code else 0,
                    expect=tuple(_EXPECT_TEXT.findall(note)),
                    not_walked=not_walked[1].strip() if not_walked else None,
                )
            )
    return out


def on_walk_env(command: str) -> str:
    """The RUNBOOK's "Replace ``prd`` by the env you are on", for the walk's env."""
    return _ENV_WORD.sub(WALK_ENV, command)


def _squash(text: str) -> str:
    return " ".join(text.split())


def walk_environment() -> dict[str, str]:
    """A clean shell: this venv first on PATH, no user lakehouse/config/env, no workspace, no keys."""
    drop = ("FIN_MLOPS_", "DATABRICKS_", "SPARK_REMOTE", "FINNHUB_", "ALPHAVANTAGE_", "ALPHA_VANTAGE_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYSPARK_PYTHON"] = sys.executable
    env["COLUMNS"] = "200"  # a wide table stays one row per line, so an expected phrase is never wrapped
    return env


# -- the parser, on a sample: fast ------------------------------------------------------------------------
SAMPLE = """\
# Runbook

## One

1. Look:

   ```bash local
   fin-mlops --env prd models          # expect "champion" expect "v1"
   fin-mlops --env prd rollback \\
     --to-version 99 --dry-run           # refused: expect exit 2
   python -c "print('a # not a comment')"
   fin-mlops --env prd replay &         # not walked: serves until stopped
   ```

   ```bash databricks
   databricks jobs list
   ```

## Two

```sql
SELECT 1;
```

```bash local
python - <<'EOF'
print("x")  # inside the heredoc
EOF
```
"""


def test_the_parser_reads_commands_annotations_continuations_and_heredocs() -> None:
    assert steps(SAMPLE) == [
        Step(8, "One", "fin-mlops --env prd models", expect=("champion", "v1")),
        Step(9, "One", "fin-mlops --env prd rollback --to-version 99 --dry-run", expect_exit=2),
        Step(11, "One", "python -c \"print('a # not a comment')\""),
        Step(12, "One", "fin-mlops --env prd replay &", not_walked="serves until stopped"),
        Step(26, "Two", "python - <<'EOF'\nprint(\"x\")  # inside the heredoc\nEOF"),
    ]
    assert [(b.language, b.tag) for b in blocks(SAMPLE)] == [
        ("bash", "local"),
        ("bash", "databricks"),
        ("sql", None),
        ("bash", "local"),
    ]
    assert on_walk_env("fin-mlops --env prd x .fin_mlops/prd/Volumes/mlops_prd/y prdx") == (
        "fin-mlops --env dev x .fin_mlops/dev/Volumes/mlops_dev/y prdx"
    )


@pytest.mark.parametrize(
    ("markdown", "message"),
    [
        ("## S\n```bash\nfin-mlops info\n```\n", "RUNBOOK.md:2 (S): a ```bash block must be tagged exactly one of"),
        ("## S\n```bash local\ndatabricks jobs list\n```\n", "RUNBOOK.md:3 (S): a `databricks` command in a local"),
        ("## S\n```bash local\nfin-mlops x  # not walked:\n```\n", "RUNBOOK.md:3 (S): 'not walked:' needs a reason"),
        ("## S\n```bash local\nfin-mlops info\n", "RUNBOOK.md:2 (S): code block never closed"),
    ],
)
def test_an_untagged_or_misplaced_command_is_refused_naming_its_line(markdown: str, message: str) -> None:
    with pytest.raises(RunbookFormatError) as caught:
        steps(markdown)
    assert str(caught.value).startswith(message)


def test_the_runbook_is_marked_and_every_procedure_has_local_and_databricks_commands(project_root: Path) -> None:
    text = (project_root / "docs" / "RUNBOOK.md").read_text(encoding="utf-8")
    walk = steps(text)
    assert walk[0].command == "fin-mlops --env dev run", "the walk starts by building the lakehouse"
    assert all(s.not_walked for s in walk if s.command.endswith("&")), "a background job is never walked"
    by_section: dict[str, set[str]] = {}
    for block in blocks(text):
        if block.tag is not None or block.language == "sql":
            by_section.setdefault(block.section, set()).add(block.tag or DATABRICKS)
    by_section.pop("(top)", None)  # the introduction's practice lakehouse is local by nature
    lacking = {s: tags for s, tags in by_section.items() if tags != {LOCAL, DATABRICKS}}
    assert lacking == {}, f"sections without both a local and a Databricks block: {lacking}"


_ROLLBACK_RESTORES = re.compile(r"The `champion` alias goes to\s+the target:.*?rejected retrain's data\.", re.DOTALL)


def test_deployment_and_the_runbook_say_what_a_rollback_restores_in_the_same_words(project_root: Path) -> None:
    said = {
        doc: [_squash(m) for m in _ROLLBACK_RESTORES.findall((project_root / "docs" / doc).read_text(encoding="utf-8"))]
        for doc in ("RUNBOOK.md", "DEPLOYMENT.md")
    }
    assert len(said["RUNBOOK.md"]) == len(said["DEPLOYMENT.md"]) == 1, said
    assert said["RUNBOOK.md"] == said["DEPLOYMENT.md"]
    assert "`trade_features`, `train_set` and `test_set` are RESTOREd" in said["RUNBOOK.md"][0]


# -- the walk ---------------------------------------------------------------------------------------------
@pytest.mark.e2e
@pytest.mark.timeout(1800)
def test_the_runbook_local_commands_run_in_order_on_a_fresh_lakehouse(tmp_path: Path, project_root: Path) -> None:
    walk = steps((project_root / "docs" / "RUNBOOK.md").read_text(encoding="utf-8"))
    work = tmp_path / "walk"
    small_config(project_root, work / "project_config.yml")
    (work / "scripts").symlink_to(project_root / "scripts")  # the RUNBOOK's `python scripts/…` lines
    env = walk_environment()
    logs = tmp_path / "logs"
    logs.mkdir()
    ran: list[str] = []
    for n, step in enumerate(walk):
        if step.not_walked:
            continue
        command = on_walk_env(step.command)
        started = time.monotonic()
        proc = subprocess.run(
            ["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True, timeout=900, check=False
        )
        output = proc.stdout + proc.stderr
        log = logs / f"{n:02d}-line{step.line}.log"
        log.write_text(f"$ {command}\nexit {proc.returncode}\n{output}", encoding="utf-8")
        ran.append(f"{step.where()}: {time.monotonic() - started:.1f}s {command.splitlines()[0][:80]}")
        tail = "\n".join(output.splitlines()[-30:])
        assert proc.returncode == step.expect_exit, (
            f"{step.where()}: `{command}` exited {proc.returncode}, the RUNBOOK expects {step.expect_exit}; "
            f"log: {log}\n{tail}"
        )
        for text in step.expect:
            assert _squash(text) in _squash(output), (
                f"{step.where()}: `{command}` did not print {text!r}; log: {log}\n{tail}"
            )
        assert "Traceback (most recent call last)" not in output, f"{step.where()}: a traceback; log: {log}"
    (logs / "timings.txt").write_text("\n".join(ran) + "\n", encoding="utf-8")
    assert len(ran) >= 20, f"only {len(ran)} local commands walked:\n" + "\n".join(ran)
