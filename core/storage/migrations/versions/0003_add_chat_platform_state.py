"""Add chat platform state

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op



revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('delivery_steps',
    sa.Column('delivery_key', sa.String(length=200), nullable=False),
    sa.Column('step', sa.String(length=64), nullable=False),
    sa.Column('result', sa.String(length=200), nullable=True),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('delivery_key', 'step', name=op.f('pk_delivery_steps'))
    )
    op.create_table('inbound_requests',
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('request_id', sa.String(length=200), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('platform', 'request_id', name=op.f('pk_inbound_requests'))
    )
    with op.batch_alter_table('inbound_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_requests_received_at'), ['received_at'], unique=False)

    op.create_table('chat_places',
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('workspace', sa.String(length=64), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=24), nullable=False),
    sa.Column('channel_id', sa.String(length=64), nullable=False),
    sa.Column('thread_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_chat_places_task_id_tasks')),
    sa.PrimaryKeyConstraint('platform', 'workspace', 'task_id', 'purpose', name=op.f('pk_chat_places'))
    )
    with op.batch_alter_table('chat_places', schema=None) as batch_op:
        batch_op.create_index('ix_chat_places_channel', ['platform', 'workspace', 'channel_id', 'thread_id'], unique=False)

    op.create_table('chat_posts',
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('workspace', sa.String(length=64), nullable=False),
    sa.Column('channel_id', sa.String(length=64), nullable=False),
    sa.Column('message_id', sa.String(length=64), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_chat_posts_post_id_posts')),
    sa.PrimaryKeyConstraint('platform', 'workspace', 'channel_id', 'message_id', name=op.f('pk_chat_posts'))
    )
    with op.batch_alter_table('chat_posts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chat_posts_post_id'), ['post_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('chat_posts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chat_posts_post_id'))

    op.drop_table('chat_posts')
    with op.batch_alter_table('chat_places', schema=None) as batch_op:
        batch_op.drop_index('ix_chat_places_channel')

    op.drop_table('chat_places')
    with op.batch_alter_table('inbound_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_requests_received_at'))

    op.drop_table('inbound_requests')
    op.drop_table('delivery_steps')
