"""Pure spatial core of citygrid: grid codes, cell sets, point location, topology."""

from grid.adjacency import adjacency, adjacency_pairs
from grid.blocks import cells_from_blocks, split_block
from grid.cells import CellSet
from grid.codes import (
    CommunityCode,
    GridCode,
    StreetCode,
    format_grid_code,
    is_valid_grid_code,
    parse_community_code,
    parse_grid_code,
    parse_street_code,
)
from grid.errors import (
    CellSetError,
    GridError,
    InvalidGridCodeError,
    InvalidParameterError,
    OutsideGridError,
)
from grid.lattice import lattice_cells
from grid.locate import CellLocator
from grid.numbering import number_cells
from grid.topology import TopologyIssue, TopologyReport, check_topology

__all__ = [
    "CellLocator",
    "CellSet",
    "CellSetError",
    "CommunityCode",
    "GridCode",
    "GridError",
    "InvalidGridCodeError",
    "InvalidParameterError",
    "OutsideGridError",
    "StreetCode",
    "TopologyIssue",
    "TopologyReport",
    "adjacency",
    "adjacency_pairs",
    "cells_from_blocks",
    "check_topology",
    "format_grid_code",
    "is_valid_grid_code",
    "lattice_cells",
    "number_cells",
    "parse_community_code",
    "parse_grid_code",
    "parse_street_code",
    "split_block",
]
