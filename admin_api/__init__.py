"""The commune's admin API under /api/v1 (one router per resource)."""
from fastapi import APIRouter

from admin_api.routers import broadcasts, stats, targets, unanswered, villages

router = APIRouter(prefix="/api/v1")
for module in (villages, targets, broadcasts, stats, unanswered):
    router.include_router(module.router)
