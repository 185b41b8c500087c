"""Add schedules, runs, freezes and delivery state

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op



revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('scheduled_runs',
    sa.Column('schedule', sa.String(length=32), nullable=False),
    sa.Column('slot', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ran_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('period', sa.String(length=8), nullable=True),
    sa.Column('entries', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('schedule', 'slot', name=op.f('pk_scheduled_runs'))
    )
    op.create_table('schedules',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('job', sa.String(length=32), nullable=False),
    sa.Column('cron', sa.String(length=120), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('table', sa.String(length=16), nullable=True),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=200), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('changed_by', sa.String(length=200), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_schedules'))
    )
    op.create_table('frozen_standings',
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('frozen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('entries', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_frozen_standings_task_id_tasks')),
    sa.PrimaryKeyConstraint('task_id', name=op.f('pk_frozen_standings'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('platform', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('not_before', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_outbox_pending', ['kind', 'id'], unique=False, sqlite_where=sa.text('delivered_at IS NULL AND failed_at IS NULL'), postgresql_where=sa.text('delivered_at IS NULL AND failed_at IS NULL'))

    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ranking_public', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('email_enabled', sa.Boolean(), server_default=sa.true(), nullable=False))

    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('freeze_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('evaluations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('counted_points', sa.Integer(), nullable=True))
    # Every evaluation written before this revision is in the ranking totals.
    op.execute('UPDATE evaluations SET counted_points = points')



def downgrade() -> None:
    with op.batch_alter_table('evaluations', schema=None) as batch_op:
        batch_op.drop_column('counted_points')

    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_column('freeze_at')

    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_column('email_enabled')
        batch_op.drop_column('ranking_public')

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_pending', sqlite_where=sa.text('delivered_at IS NULL AND failed_at IS NULL'), postgresql_where=sa.text('delivered_at IS NULL AND failed_at IS NULL'))
        batch_op.drop_column('failed_at')
        batch_op.drop_column('claimed_until')
        batch_op.drop_column('claimed_by')
        batch_op.drop_column('not_before')
        batch_op.drop_column('platform')

    op.drop_table('frozen_standings')
    op.drop_table('schedules')
    op.drop_table('scheduled_runs')
