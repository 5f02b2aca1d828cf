"""import-linter contracts the stock types cannot say; `.importlinter` names them under `contract_types`.

Provider folders are independent of each other: one provider's code never
imports another's. The folders are read from the registry (`connectors.registry.PROVIDERS`),
so adding a provider — its folder and one registry line — puts it under the contract
with nothing else to edit.
"""

from __future__ import annotations

from importlinter.contracts.independence import IndependenceContract
from importlinter.domain import fields
from importlinter.domain.imports import ModuleExpression


def provider_packages() -> list[str]:
    """`connectors.<provider>` of every registered connector, from the registry's dotted paths."""
    from connectors.registry import PROVIDERS  # imports nothing but Django's import_string: no setup needed

    return sorted({path.rsplit(".", 2)[0] for path in PROVIDERS})


class ProviderIndependenceContract(IndependenceContract):
    """An independence contract whose modules are the registered provider folders."""

    type_name = "provider_independence"
    modules = fields.SetField(subfield=fields.ModuleExpressionField(), required=False)

    def check(self, graph, verbose):
        self.modules = {ModuleExpression(package) for package in provider_packages()}  # type: ignore[assignment]
        return super().check(graph, verbose)
