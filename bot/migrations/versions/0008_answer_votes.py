"""answer_votes (👍/👎 on free-text answers, no link to who voted), and the resident's last
answered question, which a vote reads

Revision ID: 0008
Revises: 0007

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0008'
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('answer_votes',
    sa.Column('question', sa.String(length=200), nullable=False),
    sa.Column('answer', sa.String(length=80), nullable=False),
    sa.Column('vote', sa.String(length=4), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('first_day', sa.Date(), nullable=False),
    sa.Column('last_day', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('question', 'answer', 'vote')
    )
    with op.batch_alter_table('answer_votes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_answer_votes_last_day'), ['last_day'], unique=False)

    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('asked_question', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('asked_answer', sa.String(length=200), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.drop_column('asked_answer')
        batch_op.drop_column('asked_question')

    with op.batch_alter_table('answer_votes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_answer_votes_last_day'))

    op.drop_table('answer_votes')
