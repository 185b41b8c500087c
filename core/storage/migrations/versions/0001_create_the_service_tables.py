"""Create the service tables

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op



revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('delivery_key', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('delivery_key', name=op.f('uq_outbox_delivery_key'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_delivered_at'), ['delivered_at'], unique=False)

    op.create_table('people',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('display_name', sa.String(length=100), nullable=False),
    sa.Column('name_key', sa.String(length=100), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('locale', sa.String(length=8), nullable=True),
    sa.Column('membership', sa.String(length=8), nullable=True),
    sa.Column('grade', sa.Integer(), nullable=True),
    sa.Column('name_display', sa.String(length=32), nullable=True),
    sa.Column('industry', sa.String(length=64), nullable=True),
    sa.Column('prefecture', sa.String(length=8), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_people'))
    )
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.create_index('uq_people_member_name_key', ['name_key'], unique=True, sqlite_where=sa.text("role = 'member'"), postgresql_where=sa.text("role = 'member'"))
    op.create_table('identities',
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('workspace', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_identities_person_id_people')),
    sa.PrimaryKeyConstraint('platform', 'workspace', 'user_id', name=op.f('pk_identities'))
    )
    with op.batch_alter_table('identities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identities_person_id'), ['person_id'], unique=False)

    op.create_table('member_scores',
    sa.Column('period', sa.String(length=8), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('evaluation_count', sa.Integer(), nullable=False),
    sa.Column('points_sum', sa.BigInteger(), nullable=False),
    sa.Column('rank_score', sa.Float(), nullable=False),
    sa.Column('reached_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['people.id'], name=op.f('fk_member_scores_member_id_people')),
    sa.PrimaryKeyConstraint('period', 'member_id', name=op.f('pk_member_scores'))
    )
    with op.batch_alter_table('member_scores', schema=None) as batch_op:
        batch_op.create_index('ix_member_scores_ranking', ['period', sa.literal_column('rank_score DESC'), 'reached_at', 'member_id'], unique=False)

    op.create_table('tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('menu', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('work_types', sa.JSON(), nullable=False),
    sa.Column('deadline', sa.DateTime(timezone=True), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=True),
    sa.Column('participant_count', sa.Integer(), nullable=False),
    sa.Column('eligibility', sa.String(length=8), nullable=False),
    sa.Column('min_grade', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('copyright', sa.Text(), nullable=True),
    sa.Column('rubric_key', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['partner_id'], ['people.id'], name=op.f('fk_tasks_partner_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tasks'))
    )
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tasks_partner_id'), ['partner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tasks_status'), ['status'], unique=False)

    op.create_table('participation_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('responded_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['people.id'], name=op.f('fk_participation_requests_member_id_people')),
    sa.ForeignKeyConstraint(['partner_id'], ['people.id'], name=op.f('fk_participation_requests_partner_id_people')),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_participation_requests_task_id_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_participation_requests'))
    )
    with op.batch_alter_table('participation_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_participation_requests_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_participation_requests_partner_id'), ['partner_id'], unique=False)

    op.create_table('participations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changes', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['people.id'], name=op.f('fk_participations_member_id_people')),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_participations_task_id_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_participations')),
    sa.UniqueConstraint('task_id', 'member_id', name='uq_participations_task_member')
    )
    with op.batch_alter_table('participations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_participations_member_id'), ['member_id'], unique=False)

    op.create_table('posts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('reactions', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['people.id'], name=op.f('fk_posts_author_id_people')),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_posts_task_id_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_posts'))
    )
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_posts_task_id'), ['task_id'], unique=False)

    op.create_table('submissions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('links', sa.JSON(), nullable=False),
    sa.Column('files', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['people.id'], name=op.f('fk_submissions_member_id_people')),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_submissions_task_id_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_submissions')),
    sa.UniqueConstraint('task_id', 'member_id', 'version', name='uq_submissions_task_member_version')
    )
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_submissions_member_id'), ['member_id'], unique=False)

    op.create_table('evaluations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('rubric', sa.JSON(), nullable=False),
    sa.Column('levels', sa.JSON(), nullable=False),
    sa.Column('remarks', sa.JSON(), nullable=False),
    sa.Column('advice', sa.Text(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=8), nullable=False),
    sa.Column('evaluated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['people.id'], name=op.f('fk_evaluations_member_id_people')),
    sa.ForeignKeyConstraint(['partner_id'], ['people.id'], name=op.f('fk_evaluations_partner_id_people')),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_evaluations_submission_id_submissions')),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_evaluations_task_id_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluations')),
    sa.UniqueConstraint('task_id', 'member_id', name='uq_evaluations_task_member')
    )
    with op.batch_alter_table('evaluations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evaluations_member_id'), ['member_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('evaluations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evaluations_member_id'))

    op.drop_table('evaluations')
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_submissions_member_id'))

    op.drop_table('submissions')
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_posts_task_id'))

    op.drop_table('posts')
    with op.batch_alter_table('participations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_participations_member_id'))

    op.drop_table('participations')
    with op.batch_alter_table('participation_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_participation_requests_partner_id'))
        batch_op.drop_index(batch_op.f('ix_participation_requests_member_id'))

    op.drop_table('participation_requests')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tasks_status'))
        batch_op.drop_index(batch_op.f('ix_tasks_partner_id'))

    op.drop_table('tasks')
    with op.batch_alter_table('member_scores', schema=None) as batch_op:
        batch_op.drop_index('ix_member_scores_ranking')

    op.drop_table('member_scores')
    with op.batch_alter_table('identities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identities_person_id'))

    op.drop_table('identities')
    op.drop_table('people')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_delivered_at'))

    op.drop_table('outbox')
