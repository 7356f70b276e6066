"""All models, imported so that Base.metadata is complete."""

from .base import STORAGE_SRID, Base
from .grid import Cell, Community, District, DutyGrid, DutyGridCell, Street
from .org import ApiToken, AuditEntry, Department, User

__all__ = [
    "STORAGE_SRID",
    "ApiToken",
    "AuditEntry",
    "Base",
    "Cell",
    "Community",
    "Department",
    "District",
    "DutyGrid",
    "DutyGridCell",
    "Street",
    "User",
]
