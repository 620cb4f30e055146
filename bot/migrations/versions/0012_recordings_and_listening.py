"""recordings, residents.listen and residents.recording_for: lessons residents can listen to

Revision ID: 0012
Revises: 0011

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0012'
down_revision: Union[str, Sequence[str], None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('recordings',
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('language', 'key')
    )
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('listen', sa.Boolean(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('recording_for', sa.String(length=160), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.drop_column('recording_for')
        batch_op.drop_column('listen')
    op.drop_table('recordings')
