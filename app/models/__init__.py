"""All models, imported so that Base.metadata is complete."""

from .assets import Building, Camera, Component, Pipeline, PipelineBurial, PipelineClass, PipelineMaterial, Road
from .base import STORAGE_SRID, Base
from .cases import Case, CaseEvent, CasePhoto, IdempotencyRecord, Open311Client
from .catalog import CalendarDay, Category, RoutingRule, TimeLimit, WorkWindow
from .grid import Cell, Community, District, DutyGrid, DutyGridCell, Street
from .org import ApiToken, AuditEntry, Department, User
from .signin import ThrottleCounter, UserSession

__all__ = [
    "STORAGE_SRID",
    "ApiToken",
    "AuditEntry",
    "Base",
    "Building",
    "Camera",
    "Component",
    "Pipeline",
    "PipelineBurial",
    "PipelineClass",
    "PipelineMaterial",
    "Road",
    "CalendarDay",
    "Case",
    "CaseEvent",
    "CasePhoto",
    "Category",
    "IdempotencyRecord",
    "Open311Client",
    "RoutingRule",
    "TimeLimit",
    "WorkWindow",
    "Cell",
    "Community",
    "Department",
    "District",
    "DutyGrid",
    "DutyGridCell",
    "Street",
    "ThrottleCounter",
    "User",
    "UserSession",
]
