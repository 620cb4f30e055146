"""broadcasts.up_to and queued_through (queued window by window); indexes on the foreign keys
that forgetting a resident deletes by; report_tallies (the report's counts kept per month)

Revision ID: 0013
Revises: 0012

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0013'
down_revision: Union[str, Sequence[str], None] = '0012'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    # Broadcasts made before this were queued whole: 0 and 0 read as "nothing left to queue".
    with op.batch_alter_table('broadcasts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('up_to', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('queued_through', sa.Integer(), server_default='0', nullable=False))
    op.create_index('ix_event_subscriptions_resident_id', 'event_subscriptions', ['resident_id'])
    op.create_index('ix_progress_codes_claimed_by', 'progress_codes', ['claimed_by'])
    # Filled at start-up from the rows (bot/tallies.py: Tallies.ensure), with knowledge/ at hand.
    op.create_table('report_tallies',
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('measure', sa.String(length=12), nullable=False),
    sa.Column('village_id', sa.String(length=64), nullable=False),
    sa.Column('group_id', sa.String(length=32), nullable=False),
    sa.Column('adult', sa.Boolean(), nullable=False),
    sa.Column('web', sa.Boolean(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('month', 'measure', 'village_id', 'group_id', 'adult', 'web')
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('report_tallies')
    op.drop_index('ix_progress_codes_claimed_by', table_name='progress_codes')
    op.drop_index('ix_event_subscriptions_resident_id', table_name='event_subscriptions')
    with op.batch_alter_table('broadcasts', schema=None) as batch_op:
        batch_op.drop_column('queued_through')
        batch_op.drop_column('up_to')
