"""Graphs: the DAG (dag), the parallel walker (walk), node types (nodes) and the
builders that turn a configuration or a plan into a graph as ordered steps (builders)."""

from engine.graph.dag import Graph, find_cycle, new_graph, to_dot
from engine.graph.walk import WalkResult, walk

__all__ = ["Graph", "new_graph", "find_cycle", "to_dot", "walk", "WalkResult"]
