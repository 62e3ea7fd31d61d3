"""Projects on the wire: the project, its create and update requests, and a page of them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any, ClassVar
from uuid import UUID

from pydantic import AwareDatetime, Field

from taskqueue.models.base import NonBlank, RequestModel, UpdateModel, WireModel
from taskqueue.models.enums import ProjectStatus

__all__ = ["Project", "ProjectCreateRequest", "ProjectList", "ProjectUpdateRequest"]


class Project(WireModel):
    """A project groups tasks.

    Attributes:
        id: The project's id.
        name: Its name.
        description: Free text.
        status: Planning, Active, Completed, Cancelled or OnHold.
        created_at: When it was created.
        updated_at: When it last changed.
        due_date: When it is due, if it has a date.
        tags: Labels for searching.
        metadata: Free-form JSON.
    """

    id: UUID
    name: NonBlank
    description: str | None = None
    status: ProjectStatus = ProjectStatus.ACTIVE
    created_at: AwareDatetime
    updated_at: AwareDatetime
    due_date: date | None = None
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)


class ProjectCreateRequest(RequestModel):
    """The body of ``POST /api/projects``; see :class:`Project` for the fields."""

    name: NonBlank = Field(max_length=255)
    description: str | None = None
    status: ProjectStatus = ProjectStatus.ACTIVE
    due_date: date | None = None
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)


class ProjectUpdateRequest(UpdateModel):
    """The body of ``PATCH /api/projects/{id}``: only the fields that were set are sent."""

    nullable: ClassVar[frozenset[str]] = frozenset({"description", "due_date"})

    name: NonBlank | None = Field(default=None, max_length=255)
    description: str | None = None
    status: ProjectStatus | None = None
    due_date: date | None = None
    tags: list[str] | None = None
    metadata: dict[str, Any] | None = None


class ProjectList(WireModel):
    """One page of ``GET /api/projects`` (same paging as tasks)."""

    projects: list[Project]
    total: int = Field(ge=0)
    limit: int = Field(ge=0)
    offset: int = Field(ge=0)

    def __iter__(self) -> Iterator[Project]:  # type: ignore[override]
        """Iterate over this page's projects (not pydantic's field pairs)."""
        return iter(self.projects)

    def __len__(self) -> int:
        """The number of projects on this page."""
        return len(self.projects)

    def __getitem__(self, index: int) -> Project:
        """The item at ``index`` on this page."""
        return self.projects[index]

    @property
    def has_more(self) -> bool:
        """True when more projects follow this page."""
        return self.offset + len(self.projects) < self.total
