"""The dependency graph of a task, walked through the SDK."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from taskqueue.async_client import AsyncTaskQueueClient
from taskqueue.errors import NotFoundError
from taskqueue.models import Task, TaskFilters, TaskStatus

__all__ = ["GraphNode", "Progress", "TaskGraph", "walk_graph"]

Direction = Literal["upstream", "downstream", "both"]
Progress = Callable[[int, str], Awaitable[None]]
"""Told how many tasks the walk has read so far, with a line saying what it is doing."""


class GraphNode(BaseModel):
    """One task in a dependency graph.

    Attributes:
        id: The task's id.
        name: Its name.
        status: Its status.
        depth: Steps from the root: negative upstream (what it waits for), positive
            downstream (what waits for it), 0 for the root.
        dependencies: The ids it depends on (its edges).
    """

    id: UUID
    name: str
    status: TaskStatus
    depth: int
    dependencies: list[UUID] = Field(default_factory=list)


class TaskGraph(BaseModel):
    """The tasks a task depends on (upstream) and that depend on it (downstream).

    Attributes:
        root: The task the walk started from.
        nodes: Every task reached, the root included.
        missing: Dependency ids the API answered 404 for (deleted tasks).
        scanned: How many tasks were read to find the downstream ones.
        truncated: True when ``max_depth`` or ``max_scan`` stopped the walk early.
    """

    root: UUID
    nodes: list[GraphNode]
    missing: list[UUID] = Field(default_factory=list)
    scanned: int = 0
    truncated: bool = False


def _node(task: Task, depth: int) -> GraphNode:
    return GraphNode(
        id=task.id,
        name=task.name,
        status=task.status,
        depth=depth,
        dependencies=list(task.dependencies),
    )


async def walk_graph(
    client: AsyncTaskQueueClient,
    task_id: UUID,
    direction: Direction,
    max_depth: int,
    max_scan: int,
    progress: Progress | None = None,
) -> TaskGraph:
    """Walk the graph from ``task_id``.

    Upstream follows each task's ``dependencies`` with ``get_task``. The API has no "who
    depends on me" query, so downstream pages through the tasks of the root's project (all
    tasks when it has none) with ``client.tasks.list`` and follows the reverse edges, reading
    at most ``max_scan`` tasks.

    Args:
        client: The SDK client the calls go through.
        task_id: The root task.
        direction: ``upstream``, ``downstream`` or ``both``.
        max_depth: The most steps taken from the root in each direction.
        max_scan: The most tasks read for the downstream walk.
        progress: Called after each upstream level and each page of the downstream scan
            with the tasks read so far (a big project's scan takes a while).

    Raises:
        TaskNotFoundError: when the root does not exist.
    """
    root = await client.get_task(task_id)
    nodes: dict[UUID, GraphNode] = {root.id: _node(root, 0)}
    graph = TaskGraph(root=root.id, nodes=[])
    report = progress or _quiet
    if direction in ("upstream", "both"):
        await _upstream(client, root, nodes, graph, max_depth, report)
    if direction in ("downstream", "both"):
        await _downstream(client, root, nodes, graph, max_depth, max_scan, report)
    graph.nodes = sorted(nodes.values(), key=lambda n: (n.depth, n.name, str(n.id)))
    return graph


async def _quiet(_: int, __: str) -> None:
    return None


async def _upstream(
    client: AsyncTaskQueueClient,
    root: Task,
    nodes: dict[UUID, GraphNode],
    graph: TaskGraph,
    max_depth: int,
    report: Progress,
) -> None:
    frontier = [root]
    for depth in range(1, max_depth + 1):
        following: list[Task] = []
        for task in frontier:
            for dep in task.dependencies:
                if dep in nodes or dep in graph.missing:
                    continue
                try:
                    found = await client.get_task(dep)
                except NotFoundError:
                    graph.missing.append(dep)
                    continue
                nodes[found.id] = _node(found, -depth)
                following.append(found)
        frontier = following
        if not frontier:
            return
        await report(len(nodes), f"upstream: depth {depth} read, {len(nodes)} tasks")
    graph.truncated = graph.truncated or any(t.dependencies for t in frontier)


async def _downstream(
    client: AsyncTaskQueueClient,
    root: Task,
    nodes: dict[UUID, GraphNode],
    graph: TaskGraph,
    max_depth: int,
    max_scan: int,
    report: Progress,
) -> None:
    dependents: dict[UUID, list[Task]] = {}
    filters = TaskFilters(project_id=root.project_id) if root.project_id else None
    page = min(max_scan, 500)
    async for task in client.tasks.list(filters, limit=page):
        if graph.scanned >= max_scan:
            graph.truncated = True
            break
        graph.scanned += 1
        if graph.scanned % page == 0:
            await report(len(nodes) + graph.scanned, f"downstream: {graph.scanned} tasks scanned")
        for dep in task.dependencies:
            dependents.setdefault(dep, []).append(task)
    frontier = [root.id]
    for depth in range(1, max_depth + 1):
        following: list[UUID] = []
        for task_id in frontier:
            for task in dependents.get(task_id, []):
                if task.id in nodes:
                    continue
                nodes[task.id] = _node(task, depth)
                following.append(task.id)
        frontier = following
        if not frontier:
            return
    graph.truncated = graph.truncated or any(dependents.get(t) for t in frontier)
