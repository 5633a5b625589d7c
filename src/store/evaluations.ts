import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { NotFoundError } from '../errors.js';
import { isUuid } from './recordings.js';
import { ConflictError } from './user-model.js';
import { scopeSql } from './users-access.js';
import type { Principal } from './users.js';

/**
 * Agent evaluation (quality management): forms of questions worth points, and evaluations of a
 * user who took part in a recording (an "agent": a user whose numbers are among its participants),
 * each answer 0..its question's points, scored as the share of the form's points (0-100).
 */

export interface EvaluationQuestion {
  text: string;
  /** The most an answer may give, 1-10. */
  points: number;
}

export interface EvaluationForm {
  id: string;
  name: string;
  questions: EvaluationQuestion[];
  maxPoints: number;
  createdBy: string;
  createdAt: Date;
  /** Evaluations made with it (a form in use is not deleted). */
  inUse: number;
}

export interface Evaluation {
  id: string;
  recordingId: string;
  formId: string;
  formName: string;
  agent: string;
  evaluator: string;
  answers: number[];
  score: number;
  comment: string;
  createdAt: Date;
}

export interface EvaluationSummaryRow {
  agent: string;
  evaluations: number;
  averageScore: number;
  lowestScore: number;
  highestScore: number;
}

export interface EvaluationsRepository {
  forms(): Promise<EvaluationForm[]>;
  form(id: string): Promise<EvaluationForm | undefined>;
  /** ConflictError when a form has the name. */
  createForm(f: { name: string; questions: EvaluationQuestion[]; by: string }): Promise<EvaluationForm>;
  /** 'in-use' when evaluations were made with it. */
  deleteForm(id: string): Promise<'deleted' | 'in-use' | 'missing'>;
  /** Usernames of the (enabled) users whose numbers took part in the recording: who may be evaluated on it. */
  agentsOf(recordingId: string): Promise<string[]>;
  /** The recording's evaluations, newest first. */
  listFor(recordingId: string): Promise<Evaluation[]>;
  get(id: string): Promise<Evaluation | undefined>;
  add(e: Omit<Evaluation, 'id' | 'createdAt' | 'formName'>): Promise<Evaluation>;
  remove(id: string): Promise<boolean>;
  /**
   * Per agent, over the evaluations of the recordings `who` may see that were made in [from, to)
   * (`by` "evaluated", the default), or whose calls started in it (`by` "call").
   */
  summary(
    who: Principal,
    from?: Date,
    to?: Date,
    by?: 'evaluated' | 'call',
  ): Promise<{ items: EvaluationSummaryRow[]; total: { evaluations: number; averageScore: number } }>;
}

interface FormRow {
  id: string;
  name: string;
  questions: EvaluationQuestion[];
  max_points: number;
  created_by: string;
  created_at: Date;
  in_use: string;
}
const toForm = (r: FormRow): EvaluationForm => ({
  id: r.id,
  name: r.name,
  questions: r.questions,
  maxPoints: r.max_points,
  createdBy: r.created_by,
  createdAt: r.created_at,
  inUse: Number(r.in_use),
});

interface EvalRow {
  id: string;
  recording_id: string;
  form_id: string;
  form_name: string;
  agent: string;
  evaluator: string;
  answers: number[];
  score: number;
  comment: string;
  created_at: Date;
}
const toEvaluation = (r: EvalRow): Evaluation => ({
  id: r.id,
  recordingId: r.recording_id,
  formId: r.form_id,
  formName: r.form_name,
  agent: r.agent,
  evaluator: r.evaluator,
  answers: r.answers,
  score: r.score,
  comment: r.comment,
  createdAt: r.created_at,
});

const FORMS = `SELECT f.*, (SELECT count(*) FROM evaluations e WHERE e.form_id = f.id) AS in_use
  FROM evaluation_forms f`;
const EVALUATIONS = `SELECT e.*, f.name AS form_name FROM evaluations e JOIN evaluation_forms f ON f.id = e.form_id`;

export function evaluationsRepository(pool: pg.Pool): EvaluationsRepository {
  const get = async (id: string) => {
    if (!isUuid(id)) return undefined;
    const r = await pool.query<EvalRow>(`${EVALUATIONS} WHERE e.id = $1`, [id]);
    return r.rows[0] ? toEvaluation(r.rows[0]) : undefined;
  };
  return {
    async forms() {
      const r = await pool.query<FormRow>(`${FORMS} ORDER BY lower(f.name), f.name`);
      return r.rows.map(toForm);
    },
    async form(id) {
      if (!isUuid(id)) return undefined;
      const r = await pool.query<FormRow>(`${FORMS} WHERE f.id = $1`, [id]);
      return r.rows[0] ? toForm(r.rows[0]) : undefined;
    },
    async createForm({ name, questions, by }) {
      const maxPoints = questions.reduce((s, q) => s + q.points, 0);
      const r = await pool.query<FormRow>(
        `INSERT INTO evaluation_forms (id, name, questions, max_points, created_by) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (name) DO NOTHING RETURNING *, 0 AS in_use`,
        [randomUUID(), name, JSON.stringify(questions), maxPoints, by],
      );
      if (!r.rows[0]) throw new ConflictError(`an evaluation form is named "${name}"`);
      return toForm(r.rows[0]);
    },
    async deleteForm(id) {
      if (!isUuid(id)) return 'missing';
      // One statement: an evaluation made meanwhile either comes first (in use) or fails on the key.
      const r = await pool.query<{ deleted: boolean; used: boolean }>(
        `WITH used AS (SELECT EXISTS (SELECT 1 FROM evaluations WHERE form_id = $1) AS used),
              del AS (DELETE FROM evaluation_forms WHERE id = $1 AND NOT (SELECT used FROM used) RETURNING 1)
         SELECT EXISTS (SELECT 1 FROM del) AS deleted, (SELECT used FROM used) AS used`,
        [id],
      );
      const x = r.rows[0];
      return x?.deleted ? 'deleted' : x?.used ? 'in-use' : 'missing';
    },
    async agentsOf(recordingId) {
      const r = await pool.query<{ username: string }>(
        `SELECT DISTINCT u.username FROM recording_owners o JOIN users u ON u.id = o.user_id
         WHERE o.recording_id = $1 AND NOT u.disabled ORDER BY 1`,
        [recordingId],
      );
      return r.rows.map((x) => x.username);
    },
    async listFor(recordingId) {
      const r = await pool.query<EvalRow>(
        `${EVALUATIONS} WHERE e.recording_id = $1 ORDER BY e.created_at DESC, e.id`,
        [recordingId],
      );
      return r.rows.map(toEvaluation);
    },
    get,
    async add(e) {
      const id = randomUUID();
      await pool
        .query(
          `INSERT INTO evaluations (id, recording_id, form_id, agent, evaluator, answers, score, comment)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [id, e.recordingId, e.formId, e.agent, e.evaluator, e.answers, e.score, e.comment],
        )
        .catch((err: unknown) => {
          // The form (or the recording) went meanwhile: deleted between its check and this insert.
          if ((err as { code?: string }).code === '23503')
            throw new NotFoundError(`evaluation form ${e.formId} or recording ${e.recordingId} not found`);
          throw err;
        });
      return (await get(id)) as Evaluation;
    },
    async remove(id) {
      if (!isUuid(id)) return false;
      const r = await pool.query('DELETE FROM evaluations WHERE id = $1', [id]);
      return (r.rowCount ?? 0) > 0;
    },
    async summary(who, from, to, by = 'evaluated') {
      const args: unknown[] = [];
      const where = [scopeSql(who, args)];
      const at = by === 'call' ? 'r.started_at' : 'e.created_at';
      if (from) {
        args.push(from);
        where.push(`${at} >= $${args.length}`);
      }
      if (to) {
        args.push(to);
        where.push(`${at} < $${args.length}`);
      }
      // Per agent, and (agent null) over them all.
      const r = await pool.query<{ agent: string | null; n: string; avg: string; lo: number; hi: number }>(
        `SELECT e.agent, count(*) AS n, round(avg(e.score), 1) AS avg, min(e.score) AS lo, max(e.score) AS hi
         FROM evaluations e JOIN recordings r ON r.id = e.recording_id
         WHERE ${where.join(' AND ')} GROUP BY GROUPING SETS ((e.agent), ()) ORDER BY e.agent NULLS LAST`,
        args,
      );
      const rows = r.rows.map((x) => ({
        agent: x.agent,
        evaluations: Number(x.n),
        averageScore: Number(x.avg ?? 0),
        lowestScore: x.lo,
        highestScore: x.hi,
      }));
      const total = rows.find((x) => x.agent === null);
      return {
        items: rows.filter((x): x is EvaluationSummaryRow => x.agent !== null),
        total: { evaluations: total?.evaluations ?? 0, averageScore: total?.averageScore ?? 0 },
      };
    },
  };
}
