"""Action, block and task ids for `/deploy`: one place, never repeated as literals."""

from __future__ import annotations

from enum import StrEnum

from shipbell.bot.deploys.models import Task  # the domain submits these too

__all__ = ["COMMAND", "HOOK_PATH", "SWEEP_JOB", "Action", "Block", "Task"]


class Action(StrEnum):
    APPROVE = "deploy.approve"
    REJECT = "deploy.reject"
    CANCEL = "deploy.cancel"
    TAKE_OVER = "deploy.lock_take_over"
    UNLOCK = "deploy.lock_unlock"


class Block(StrEnum):
    SUMMARY = "deploy.summary"
    FIELDS = "deploy.fields"
    ERROR = "deploy.error"
    CHANGES = "deploy.changes"
    ACTIONS = "deploy.actions"
    CONTEXT = "deploy.context"
    TAKE_OVER = "deploy.take_over"
    UNLOCK = "deploy.unlock"


COMMAND = "/deploy"
SWEEP_JOB = "deploy.sweep"
HOOK_PATH = "/hooks/deploy"
