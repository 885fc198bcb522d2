"""Load a bundle the way the Databricks CLI does, keeping file/line of every value.

``databricks.yml`` names other files through ``include`` globs; the CLI merges
their mappings into one configuration (a resource defined twice is an error).
Each mapping and sequence remembers where it came from so a finding can point
at ``resources/x.yml:42`` instead of a JSON path alone.
"""

from __future__ import annotations

import glob
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Location = tuple[Path, int]  # file, 1-based line


class LocDict(dict[str, Any]):
    """A mapping that knows the file/line of itself and of each key."""

    def __init__(self, file: Path, line: int) -> None:
        super().__init__()
        self.file = file
        self.line = line
        self.key_locs: dict[str, Location] = {}

    def loc(self, key: str | None = None) -> Location:
        if key is not None and key in self.key_locs:
            return self.key_locs[key]
        return (self.file, self.line)


class LocList(list[Any]):
    """A sequence that knows the file/line of itself and of each item."""

    def __init__(self, file: Path, line: int) -> None:
        super().__init__()
        self.file = file
        self.line = line
        self.item_locs: list[Location] = []

    def loc(self, index: int | None = None) -> Location:
        if index is not None and 0 <= index < len(self.item_locs):
            return self.item_locs[index]
        return (self.file, self.line)


class BundleLoadError(ValueError):
    """The YAML cannot be read at all (syntax, duplicate resource, bad include)."""

    def __init__(self, file: Path, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}")
        self.file = file
        self.line = line
        self.message = message


def _construct(node: yaml.Node, file: Path, scalars: yaml.SafeLoader) -> Any:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out = LocDict(file, line)
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise BundleLoadError(file, key_node.start_mark.line + 1, "YAML merge keys (<<) are not supported")
            key = _construct(key_node, file, scalars)
            if not isinstance(key, str):
                key = str(key)
            if key in out:
                raise BundleLoadError(file, key_node.start_mark.line + 1, f"duplicate key {key!r}")
            out[key] = _construct(value_node, file, scalars)
            out.key_locs[key] = (file, key_node.start_mark.line + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        seq = LocList(file, line)
        for item in node.value:
            seq.append(_construct(item, file, scalars))
            seq.item_locs.append((file, item.start_mark.line + 1))
        return seq
    # scalars: let PyYAML's safe constructor resolve bool/int/float/null/str
    return scalars.construct_object(node, deep=True)


def load_yaml(path: Path) -> Any:
    """Parse one YAML file into LocDict/LocList/scalars."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BundleLoadError(path, 0, f"cannot read: {exc.strerror}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise BundleLoadError(path, line, f"invalid YAML: {exc.problem or exc}") from None
    if node is None:
        return LocDict(path, 1)
    return _construct(node, path, yaml.SafeLoader(""))


@dataclass
class LoadedBundle:
    """The merged configuration plus where each part came from."""

    root: Path
    config: LocDict
    files: list[Path] = field(default_factory=list)
    #: (resource type, key) -> file that defines it (paths inside are relative to that file)
    resource_files: dict[tuple[str, str], Path] = field(default_factory=dict)
    #: include glob -> files it matched
    includes: dict[str, list[Path]] = field(default_factory=dict)

    def iter_resources(self, kind: str) -> Iterator[tuple[str, LocDict]]:
        resources = self.config.get("resources")
        if isinstance(resources, dict):
            group = resources.get(kind)
            if isinstance(group, dict):
                for key, value in group.items():
                    if isinstance(value, LocDict):
                        yield key, value


def merge_into(base: LocDict, extra: LocDict, *, path: str = "") -> None:
    """Merge ``extra`` into ``base`` like the CLI: mappings deep-merge, sequences append, scalars must agree."""
    for key, value in extra.items():
        here = f"{path}.{key}" if path else key
        if key not in base:
            base[key] = value
            base.key_locs[key] = extra.loc(key)
            continue
        current = base[key]
        if isinstance(current, LocDict) and isinstance(value, LocDict):
            if path.startswith("resources.") and path.count(".") == 1:
                file, line = extra.loc(key)
                other_file, other_line = base.loc(key)
                raise BundleLoadError(file, line, f"resource {here} is already defined at {other_file}:{other_line}")
            merge_into(current, value, path=here)
        elif isinstance(current, LocList) and isinstance(value, LocList):
            current.extend(value)
            current.item_locs.extend(value.item_locs)
        elif current != value:
            file, line = extra.loc(key)
            other_file, other_line = base.loc(key)
            raise BundleLoadError(file, line, f"{here} conflicts with the value set at {other_file}:{other_line}")


def load_bundle(root: Path) -> LoadedBundle:
    """Load ``databricks.yml`` in ``root`` and merge every file its ``include`` globs match."""
    root = root.resolve()
    main = root / "databricks.yml"
    if not main.is_file():
        alt = root / "databricks.yaml"
        if not alt.is_file():
            raise BundleLoadError(main, 0, "no databricks.yml in the project root")
        main = alt
    config = load_yaml(main)
    if not isinstance(config, LocDict):
        raise BundleLoadError(main, 1, "the bundle configuration must be a mapping")
    bundle = LoadedBundle(root=root, config=config, files=[main])
    _record_resources(bundle, config, main)
    includes = config.get("include", [])
    if includes is None:
        includes = []
    if not isinstance(includes, list):
        raise BundleLoadError(main, config.loc("include")[1], "include must be a list of globs")
    for index, pattern in enumerate(includes):
        line = includes.loc(index)[1] if isinstance(includes, LocList) else 0
        if not isinstance(pattern, str):
            raise BundleLoadError(main, line, f"include entry {pattern!r} is not a string")
        matches = sorted(Path(p) for p in glob.glob(str(root / pattern), recursive=True))
        matches = [m.resolve() for m in matches if m.is_file() and m.resolve() != main]
        bundle.includes[pattern] = matches
        for path in matches:
            if path in bundle.files:
                continue
            extra = load_yaml(path)
            if not isinstance(extra, LocDict):
                raise BundleLoadError(path, 1, "an included file must be a mapping")
            if "include" in extra:
                raise BundleLoadError(path, extra.loc("include")[1], "include is only allowed in databricks.yml")
            _record_resources(bundle, extra, path)
            merge_into(config, extra)
            bundle.files.append(path)
    return bundle


def _record_resources(bundle: LoadedBundle, doc: LocDict, path: Path) -> None:
    resources = doc.get("resources")
    if isinstance(resources, dict):
        for kind, group in resources.items():
            if isinstance(group, dict):
                for key in group:
                    bundle.resource_files.setdefault((kind, key), path)
    targets = doc.get("targets")
    if isinstance(targets, dict):
        for target in targets.values():
            if isinstance(target, dict) and isinstance(target.get("resources"), dict):
                for kind, group in target["resources"].items():
                    if isinstance(group, dict):
                        for key in group:
                            bundle.resource_files.setdefault((kind, key), path)
