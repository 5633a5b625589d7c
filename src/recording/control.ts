import { databaseUnavailable } from '../errors.js';
import type { Logger } from '../log.js';
import { CONTROL_SETTING_KEY, discardRecording, discardUnkept } from './control-discard.js';
import {
  ControlError,
  matchTarget,
  relayControl,
  type ControlRequest,
  type ControlResult,
  type RemoteControl,
} from './control-relay.js';
import type { MediaEngine, MediaEvent } from '../media/types.js';
import type { AuditRepository } from '../store/audit.js';
import type { ModeTable, RecordModesRepository } from '../store/record-modes.js';
import { aorNumber, type Principal, type UsersRepository } from '../store/users.js';
import {
  DtmfMatcher,
  allowedNow,
  initialState,
  mayControl,
  normalizeSettings,
  refusal,
  resolveMode,
  userOfNumber,
  type ControlAction,
  type ControlSettings,
  type ControlState,
  type RecordMode,
} from './control-policy.js';
import type { ActiveCall, CallControlView, RecordingControlHooks, SessionEvent } from './types.js';

/**
 * Recording control at run time: gives each call its record mode at the start, applies
 * pause / resume / start / stop from the API, the monitor and the phone (RFC 4733 codes) through
 * the engine's pause (so SRS_PAUSE_MODE silences or cuts the time, in every output and for
 * listeners), stores each action as an event of the recording and in the audit trail, and at the
 * end discards the calls whose audio is not to be kept (spool wiped; metadata row or nothing).
 */

export { CONTROL_SETTING_KEY, discardUnkept };
export { ControlError, type ControlRequest, type ControlResult, type RemoteControl };

export interface RecordingControlOptions {
  /** The phone codes (RFC 4733 events of the legs). */
  engine: Pick<MediaEngine, 'onEvents'>;
  service: {
    activeCalls(): ActiveCall[];
    /**
     * Pauses (held) or resumes the call's legs in the engine. The SRC's own pause of a stream
     * (a=inactive) is the other owner of a leg's pause: a release leaves those legs paused
     * (src/recording/pause-owners.ts).
     */
    holdForControl(recordingId: string, held: boolean): boolean;
    addEvents(recordingId: string, events: SessionEvent[]): Promise<void>;
    emit(event: 'event', e: { type: 'call-update'; call: ActiveCall }): boolean;
  };
  db: {
    recordModes: RecordModesRepository;
    users: Pick<UsersRepository, 'getSetting' | 'setSetting'>;
    audit: Pick<AuditRepository, 'append'>;
  };
  dataDir: string;
  wipeDir: (dir: string) => Promise<void>;
  log: Logger;
  /** How often the user/group modes and settings are re-read (they are also re-read on change). */
  refreshMs?: number;
}

interface LiveControl {
  call: ActiveCall;
  mode: RecordMode;
  state: ControlState;
  segment: number;
  started: boolean;
  /**
   * Control holds the call in the engine now (paused, stopped, not started under press, never):
   * its media is dropped, whatever the SRC's re-INVITEs say, legs added meanwhile included.
   */
  enginePaused: boolean;
  /** Per leg: the digits heard so far. */
  dtmf: Map<string, DtmfMatcher>;
  /** A control action being audited and applied (the next one waits for it). */
  busy?: Promise<void>;
}

export class RecordingControl implements RecordingControlHooks {
  readonly #o: RecordingControlOptions;
  readonly #live = new Map<string, LiveControl>();
  #remote: RemoteControl | undefined;
  #table: ModeTable = { users: [], groups: new Map() };
  #settings: ControlSettings = normalizeSettings(undefined);
  #timer: NodeJS.Timeout | null = null;
  /** Calls answered without keeping audio (mode never, on-demand never started), by mode. */
  readonly notRecorded = { never: 0, 'on-demand': 0 };

  constructor(o: RecordingControlOptions) {
    this.#o = o;
    o.engine.onEvents((events) => this.#onMedia(events));
  }

  /** Control of other nodes' calls: a request for a call not held here is relayed to its node. */
  setRemote(remote: RemoteControl | undefined): void {
    this.#remote = remote;
  }

  get settings(): ControlSettings {
    return this.#settings;
  }

  /** Reads the modes and settings (at start, after each change, and every refreshMs). */
  async reload(): Promise<void> {
    const [table, raw] = await Promise.all([
      this.#o.db.recordModes.table(),
      this.#o.db.users.getSetting<unknown>(CONTROL_SETTING_KEY),
    ]);
    this.#table = table;
    this.#settings = normalizeSettings(raw);
  }

  async init(): Promise<void> {
    await this.reload();
    this.#timer = setInterval(() => {
      this.reload().catch((err: unknown) => this.#o.log.warn({ err }, 'record modes: reload failed'));
    }, this.#o.refreshMs ?? 10_000);
    this.#timer.unref();
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  async saveSettings(s: ControlSettings, by: string): Promise<void> {
    await this.#o.db.users.setSetting(CONTROL_SETTING_KEY, s, by);
    await this.reload();
  }

  #view(c: LiveControl): CallControlView {
    return {
      mode: c.mode,
      state: c.state,
      segment: c.segment,
      allowed: allowedNow(c.mode, c.state, false),
      adminAllowed: allowedNow(c.mode, c.state, true),
    };
  }

  async started(call: ActiveCall): Promise<void> {
    const { mode, users } = resolveMode(call.participants, this.#table, this.#settings);
    const state = initialState(mode);
    // Not-started time under onDemandFrom=press, and a `never` call: paused in the engine (the
    // media is dropped and counted; the paused time is silence or cut).
    const pause = mode === 'never' || (mode === 'on-demand' && this.#settings.onDemandFrom === 'press');
    const c: LiveControl = {
      call,
      mode,
      state,
      segment: state === 'recording' ? 1 : 0,
      started: false,
      enginePaused: pause,
      dtmf: new Map(),
    };
    this.#live.set(call.recordingId, c);
    if (pause) this.#o.service.holdForControl(call.recordingId, true);
    call.control = this.#view(c);
    // The common case (always, by default) costs no statement.
    if (mode !== 'always' || users.length > 0) {
      await this.#o.db.recordModes.setRecordingMode(call.recordingId, mode);
      await this.#o.service.addEvents(call.recordingId, [
        { at: new Date(), type: 'record-mode', detail: { mode, users, state } },
      ]);
    }
  }

  async ended(recordingId: string): Promise<boolean> {
    const c = this.#live.get(recordingId);
    if (!c) return true;
    // A control action in flight (a start, say) is applied or dropped before the call is judged.
    if (c.busy) await c.busy;
    if (c.mode !== 'never' && (c.mode !== 'on-demand' || c.started)) {
      this.#live.delete(recordingId);
      return true;
    }
    // Forgotten only once discarded: the end-of-call hand-off retries this while the database is away.
    const catalogue = await discardRecording(this.#o, recordingId, this.#settings.keepUnstarted, {
      callId: c.call.callId,
      mode: c.mode,
    });
    this.#live.delete(recordingId);
    this.notRecorded[c.mode === 'never' ? 'never' : 'on-demand']++;
    this.#o.log.info(
      { recordingId, callId: c.call.callId, mode: c.mode, catalogue: catalogue ?? 'discarded already' },
      'call not recorded: no audio kept',
    );
    return false;
  }

  /** Live calls `who` may control, with their control state. */
  visibleCalls(who: Principal): ActiveCall[] {
    return this.#o.service.activeCalls().filter((c) => mayControl(who, c.participants, this.#table));
  }

  /** The live call a request names (404 when none, or none the principal may control). */
  find(who: Principal, target: ControlRequest['target']): ActiveCall {
    const found = matchTarget(this.#o.service.activeCalls(), target).filter(
      (c) => this.#live.has(c.recordingId) && mayControl(who, c.participants, this.#table),
    );
    const what = target.recordingId ?? target.callId ?? `number ${target.number ?? ''}`;
    if (found.length === 0) throw new ControlError(404, `no live call ${what} you may control`);
    if (found.length > 1)
      throw new ControlError(409, `${found.length} live calls match ${what}; name the recording id`);
    return found[0] as ActiveCall;
  }

  /**
   * `find`, or another node's call as it last published it (its control state a poll behind).
   */
  async findAnywhere(who: Principal, target: ControlRequest['target']): Promise<ActiveCall> {
    try {
      return this.find(who, target);
    } catch (err) {
      if (!(err instanceof ControlError) || err.status !== 404 || !this.#remote) throw err;
      const found = matchTarget(await this.#remote.calls(), target).filter((c) =>
        mayControl(who, c.participants, this.#table),
      );
      if (found.length !== 1) throw err;
      return found[0] as ActiveCall;
    }
  }

  /**
   * Applies an action (or refuses it, audited either way); returns the call's control state. The
   * audit entry is written before the engine or the state changes: when it cannot be written, the
   * action is not applied (503). One action at a time per call: a later request waits for the
   * earlier one, then is checked against the state it left.
   */
  async act(r: ControlRequest): Promise<ControlResult> {
    let call: ActiveCall;
    try {
      call = this.find(r.who, r.target);
    } catch (err) {
      if (!(err instanceof ControlError) || err.status !== 404 || !this.#remote) throw err;
      return relayControl(this.#remote, this.#table, r, err);
    }
    let c = this.#live.get(call.recordingId) as LiveControl;
    while (c.busy) {
      await c.busy;
      call = this.find(r.who, r.target);
      c = this.#live.get(call.recordingId) as LiveControl;
    }
    const id = call.recordingId;
    const admin = r.who.role === 'admin';
    const no = refusal(c.mode, c.state, r.action, admin);
    const entry = (action: string, details: Record<string, unknown>) => ({
      actor: r.who.username,
      actorRole: r.who.role,
      ip: r.ip,
      via: r.channel,
      action,
      resource: 'recording',
      resourceId: id,
      details: {
        callId: call.callId,
        channel: r.channel,
        mode: c.mode,
        state: c.state,
        ...(r.relayedBy ? { relayedBy: r.relayedBy } : {}),
        ...details,
      },
    });
    if (no) {
      await this.#o.db.audit.append(entry(`recording.${r.action}-refused`, { reason: no.reason }));
      throw new ControlError(no.status, no.reason);
    }
    // Reserved with no await since the check above: a second request waits until this one is
    // audited and applied (or dropped), so two cannot both pass the check.
    let release = () => {};
    c.busy = new Promise<void>((res) => (release = res));
    try {
      const segment = r.action === 'start' ? c.segment + 1 : c.segment;
      const state = r.action === 'pause' ? 'paused' : r.action === 'stop' ? 'stopped' : 'recording';
      const e = entry(`recording.${r.action}`, { state, segment });
      try {
        // An on-demand call's audio is kept from its first start on (startup recovery reads this):
        // marked in the transaction of the start's entry.
        if (r.action === 'start' && c.mode === 'on-demand' && segment === 1)
          await this.#o.db.recordModes.keepAudio(id, e);
        else await this.#o.db.audit.append(e);
      } catch (err) {
        // Not applied. The database away (or the entry cancelled): 503 saying so. Another error
        // (a bug, a trigger) goes on as it is: the client gets a generic 500, the log its details.
        if (!databaseUnavailable(err)) throw err;
        this.#o.log.warn(
          { err, recordingId: id, action: r.action },
          'control action not applied: audit failed',
        );
        throw new ControlError(
          503,
          `${r.action} not applied: its audit entry could not be written; try again`,
        );
      }
      // Audited: the engine and the state change together, synchronously.
      if (r.action === 'pause' || r.action === 'stop') {
        if (!c.enginePaused) this.#o.service.holdForControl(id, true);
        c.enginePaused = true;
      } else {
        // resume, or start from not-started (on-demand) or stopped. Under onDemandFrom=call the
        // not-started time was recorded all along (the engine was not paused): the whole call is
        // kept. Streams the SRC holds (a=inactive) stay paused until it resumes them.
        if (c.enginePaused) this.#o.service.holdForControl(id, false);
        c.enginePaused = false;
        if (r.action === 'start') c.started = true;
      }
      c.state = state;
      c.segment = segment;
      call.control = this.#view(c);
    } finally {
      c.busy = undefined;
      release();
    }
    const detail = { by: r.who.username, channel: r.channel, segment: c.segment, mode: c.mode };
    const type = {
      pause: 'recording-paused',
      resume: 'recording-resumed',
      start: 'recording-started',
      stop: 'recording-stopped',
    }[r.action];
    await this.#o.service.addEvents(id, [{ at: new Date(), type, detail }]).catch((err: unknown) => {
      this.#o.log.warn({ err, recordingId: id }, 'control event not stored (the call ended)');
    });
    this.#o.service.emit('event', { type: 'call-update', call });
    return { recordingId: id, callId: call.callId, ...call.control };
  }

  #onMedia(events: MediaEvent[]): void {
    const codes = this.#settings.dtmf;
    if (!codes) return;
    for (const e of events) {
      if (e.type !== 'dtmf') continue;
      const c = this.#live.get(e.recordingId);
      if (!c) continue;
      let m = c.dtmf.get(e.legId);
      if (!m) c.dtmf.set(e.legId, (m = new DtmfMatcher(codes)));
      const action = m.push(e.digit, e.atMs);
      if (action) void this.#phone(c, e.legId, action);
    }
  }

  /** A phone code: acts as the user owning the number of the participant that sent it. */
  async #phone(c: LiveControl, legId: string, action: ControlAction): Promise<void> {
    const label = c.call.streams[Number(legId.replace(/^leg/, ''))]?.label ?? null;
    const sender = c.call.participants.find((p) => label !== null && p.sendsLabels.includes(label));
    const number = aorNumber(sender?.aor);
    const u = number ? userOfNumber(this.#table, number) : undefined;
    const who: Principal = u
      ? {
          userId: u.userId,
          username: u.username,
          role: u.role,
          groups: [],
          numbers: u.numbers,
          via: 'session',
        }
      : {
          userId: null,
          username: `phone:${number || legId}`,
          role: 'record-only',
          groups: [],
          numbers: [],
          via: 'session',
        };
    try {
      await this.act({ who, channel: 'phone', action, ip: '', target: { recordingId: c.call.recordingId } });
    } catch (err) {
      if (err instanceof ControlError && err.status === 404) {
        // The sender is no user of ours (or not a participant): refused, and audited.
        await this.#o.db.audit
          .append({
            actor: who.username,
            actorRole: '',
            ip: '',
            via: 'phone',
            action: `recording.${action}-refused`,
            resource: 'recording',
            resourceId: c.call.recordingId,
            details: {
              callId: c.call.callId,
              channel: 'phone',
              legId,
              reason: 'the sender is not a user of this call',
            },
          })
          .catch(() => undefined);
      } else if (!(err instanceof ControlError) || err.status === 503) {
        this.#o.log.warn({ err, recordingId: c.call.recordingId }, 'phone control failed');
      }
    }
  }
}
