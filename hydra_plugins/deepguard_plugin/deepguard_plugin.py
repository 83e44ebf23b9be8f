"""Registers DeepGuard's typed schemas and resolvers with every Hydra composition.

Hydra imports each module under `hydra_plugins` before it composes a config. The scripts,
the tests and DVC's `params.yaml` composition (which never runs our scripts) all go
through that step, so registering here is the one place that covers them all.
"""

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

from deepguard.config import register_resolvers, register_schemas

register_schemas()
register_resolvers()


class DeepGuardSearchPathPlugin(SearchPathPlugin):
    """Leaves the search path as it is; the module import above is what matters."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        return None
