"""The policy of record: the file ``conf.py`` names, loaded once per process and shared.

Pages that render from the policy note it as a dependency, so editing the file re-reads
exactly those pages on the next incremental build.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.environment import BuildEnvironment
from sphinx.errors import ConfigError

from access_checker.policy import Policy, PolicyError, load_policy


def policy_path(config: Config) -> Path:
    # config.validate() made it absolute (or the package's own policy when unset).
    return Path(config.access_checker_policy)


@lru_cache(maxsize=4)
def _load(path: Path, mtime_ns: int) -> Policy:
    # mtime in the key: sphinx-autobuild keeps the process alive across policy edits.
    return load_policy(path)


def get_policy(config: Config) -> Policy:
    path = policy_path(config)
    try:
        return _load(path, path.stat().st_mtime_ns)
    except FileNotFoundError:
        raise ConfigError(f"access_checker_policy: no such file {path}") from None
    except PolicyError as exc:
        raise ConfigError(f"access_checker_policy {path}:\n  " + "\n  ".join(exc.problems)) from None


def policy_of_record(env: BuildEnvironment) -> Policy:
    """The policy, for a directive or role: the page is re-read when the file changes."""
    env.note_dependency(str(policy_path(env.config)))
    return get_policy(env.config)


def _check_early(app: Sphinx) -> None:
    # A broken policy file stops the build before any page is read, listing each problem
    # with its key path.
    get_policy(app.config)


def setup(app: Sphinx) -> None:
    app.connect("builder-inited", _check_early)
