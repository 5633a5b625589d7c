import { z } from 'zod';
import { CSV_BOM, csvLine } from '../../csv.js';
import type { Evaluation, EvaluationForm } from '../../store/evaluations.js';
import { roleRank } from '../../store/users.js';
import { badRequest, conflict, forbidden, notFound, sendCsv, sendJson } from '../http.js';
import { describe, mapConflict, recordingRoute, type Kit } from '../kit.js';
import { need, qDate, route, type RouteDef } from '../table.js';

/**
 * Agent evaluation (quality management): admins define forms of questions worth points;
 * supervisors and admins evaluate a user who took part in a recording they may see, answering
 * each question; the score is the share of the form's points (0-100). Whoever sees a recording
 * sees its evaluations; a summary per agent serves the Reports tab. Every change is audited.
 */

/** A form as the API sends it (the console takes its type from here). */
export const formJson = (f: EvaluationForm) => ({ ...f, createdAt: f.createdAt.toISOString() });
/** An evaluation as the API sends it. */
export const evaluationJson = (e: Evaluation) => ({ ...e, createdAt: e.createdAt.toISOString() });

/** The score of answers on a form: the share of its points, rounded to a whole per cent. */
export const scoreOf = (answers: readonly number[], maxPoints: number): number =>
  Math.round((100 * answers.reduce((s, a) => s + a, 0)) / maxPoints);

export function evaluationRoutes(k: Kit): RouteDef[] {
  const { d, audit } = k;
  const onRecording = recordingRoute(k);
  return [
    route({
      method: 'GET',
      path: '/evaluation-forms',
      summary: 'The evaluation forms by name, with how many evaluations use each',
      role: 'user',
      async handler(ctx) {
        sendJson(ctx.res, 200, { items: (await d.db.evaluations.forms()).map(formJson) });
      },
    }),
    route({
      method: 'POST',
      path: '/evaluation-forms',
      summary: 'Create an evaluation form: a name and its questions, each worth 1-10 points',
      role: 'admin',
      body: z
        .object({
          name: z.string().trim().min(1).max(100),
          questions: z
            .array(
              z
                .object({
                  text: z.string().trim().min(1).max(500),
                  points: z.number().int().min(1, 'at least 1').max(10, 'at most 10'),
                })
                .strict(),
            )
            .min(1, 'a form needs a question')
            .max(50),
        })
        .strict(),
      response: { status: 201 },
      async handler(ctx, { body }) {
        const f = await d.db.evaluations.createForm({ ...body, by: need(ctx).username }).catch(mapConflict);
        await audit(ctx, 'evaluation-form.create', 'evaluation-form', f.id, {
          name: f.name,
          questions: f.questions.length,
          maxPoints: f.maxPoints,
        });
        sendJson(ctx.res, 201, formJson(f));
      },
    }),
    route({
      method: 'DELETE',
      path: '/evaluation-forms/:formId',
      summary: 'Delete an evaluation form no evaluation uses (409 otherwise)',
      role: 'admin',
      async handler(ctx, { params }) {
        const id = params.formId as string;
        const f = await d.db.evaluations.form(id);
        const outcome = f ? await d.db.evaluations.deleteForm(id) : 'missing';
        if (outcome === 'missing' || !f) throw notFound(`evaluation form ${id} not found`);
        if (outcome === 'in-use')
          throw conflict(`evaluation form "${f.name}" is used by ${f.inUse} evaluation(s); it stays`);
        await audit(ctx, 'evaluation-form.delete', 'evaluation-form', id, { name: f.name });
        sendJson(ctx.res, 200, { deleted: id });
      },
    }),
    onRecording('GET', '/recordings/:id/evaluations', 'Evaluations of the recording', async (ctx, rec) => {
      const [items, agents] = await Promise.all([
        d.db.evaluations.listFor(rec.id),
        d.db.evaluations.agentsOf(rec.id),
      ]);
      sendJson(ctx.res, 200, { items: items.map(evaluationJson), agents });
    }),
    onRecording(
      'POST',
      '/recordings/:id/evaluations',
      'Evaluate a user who took part (supervisors and admins): an answer per question of the form, each 0..its points',
      async (ctx, rec, { body }) => {
        const who = need(ctx);
        if (roleRank(who.role) < roleRank('supervisor'))
          throw forbidden('only supervisors and admins evaluate');
        const form = await d.db.evaluations.form(body.formId);
        if (!form) throw notFound(`evaluation form ${body.formId} not found`);
        const agents = await d.db.evaluations.agentsOf(rec.id);
        if (!agents.includes(body.agent))
          throw badRequest(
            `agent: ${body.agent} did not take part in this recording (who did: ${agents.join(', ') || 'no user'})`,
          );
        if (body.answers.length !== form.questions.length)
          throw badRequest(
            `answers: the form has ${form.questions.length} questions, ${body.answers.length} answers given`,
          );
        form.questions.forEach((q, i) => {
          const a = body.answers[i] as number;
          if (a > q.points)
            throw badRequest(`answers[${i}]: ${a} is more than the question's ${q.points} points`);
        });
        const e = await d.db.evaluations
          .add({
            recordingId: rec.id,
            formId: form.id,
            agent: body.agent,
            evaluator: who.username,
            answers: body.answers,
            score: scoreOf(body.answers, form.maxPoints),
            comment: body.comment ?? '',
          })
          .catch(mapConflict);
        await audit(ctx, 'evaluation.add', 'recording', rec.id, {
          evaluationId: e.id,
          form: form.name,
          agent: e.agent,
          score: e.score,
          ...describe(rec),
        });
        sendJson(ctx.res, 201, evaluationJson(e));
      },
      z
        .object({
          formId: z.string().min(1).max(100),
          agent: z.string().min(1).max(64),
          answers: z.array(z.number().int().min(0, 'an answer is at least 0')).max(50),
          comment: z.string().trim().max(2000).optional(),
        })
        .strict(),
    ),
    onRecording(
      'DELETE',
      '/recordings/:id/evaluations/:evaluationId',
      'Delete an evaluation (its evaluator, or an admin)',
      async (ctx, rec, { params }) => {
        const e = await d.db.evaluations.get(params.evaluationId as string);
        if (!e || e.recordingId !== rec.id) throw notFound(`evaluation ${params.evaluationId} not found`);
        const who = need(ctx);
        if (who.role !== 'admin' && who.username !== e.evaluator)
          throw forbidden(`evaluation made by ${e.evaluator}; only they or an admin may delete it`);
        await d.db.evaluations.remove(e.id);
        await audit(ctx, 'evaluation.delete', 'recording', rec.id, {
          evaluationId: e.id,
          agent: e.agent,
          evaluator: e.evaluator,
          score: e.score,
        });
        sendJson(ctx.res, 200, { deleted: e.id });
      },
    ),
    route({
      method: 'GET',
      path: '/evaluations/summary',
      summary:
        'Per agent: evaluations of the recordings the caller may see, made between from and to (by=evaluated, the default) or of calls that started between them (by=call); average, lowest and highest score (supervisors and admins); format=csv downloads it',
      role: 'supervisor',
      query: z.object({
        from: qDate('at or after').optional(),
        to: qDate('before').optional(),
        by: z
          .enum(['evaluated', 'call'], { error: 'evaluated or call' })
          .optional()
          .describe('what from/to apply to: when the evaluation was made (default) or when the call started'),
        format: z.enum(['json', 'csv'], { error: 'json or csv' }).optional().describe('json (default) | csv'),
      }),
      response: { produces: ['application/json', 'text/csv'] },
      async handler(ctx, { query }) {
        const summary = await d.db.evaluations.summary(need(ctx), query.from, query.to, query.by);
        if (query.format !== 'csv') {
          sendJson(ctx.res, 200, summary);
          return;
        }
        let body = `${CSV_BOM}${csvLine(['agent', 'evaluations', 'average_score', 'lowest_score', 'highest_score'])}`;
        for (const r of summary.items)
          body += csvLine([r.agent, r.evaluations, r.averageScore, r.lowestScore, r.highestScore]);
        body += csvLine(['(all)', summary.total.evaluations, summary.total.averageScore, '', '']);
        sendCsv(ctx.res, 'evaluations-by-agent.csv', body);
      },
    }),
  ];
}
