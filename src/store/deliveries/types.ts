/** The shapes of the delivery state (src/store/offload.ts composes the repositories). */

export interface DeliveryArtifact {
  path: string;
  bytes: number;
  sha256Plain: string;
  keyFingerprint: string;
}

/** A stored recording with what every delivery format needs. */
export interface DeliveryRecording {
  id: string;
  /** 'stored' unless purged (retention, offload) or deleted since. */
  state: string;
  callId: string;
  sessionId: string | null;
  startedAt: Date;
  durationMs: number | null;
  storedAt: Date;
  direction: string | null;
  callerNumber: string;
  callerName: string;
  calleeNumber: string;
  calleeName: string;
  /** Its custom field values by name (docs/api.md#custom-fields); {} when none. */
  fields?: Record<string, string>;
  /** The recorded user: a user whose numbers include the caller's (first) or the callee's. */
  user: {
    id: string;
    username: string;
    displayName: string;
    group: string | null;
    email: string | null;
    /** True when the user is the caller (From), false when the callee (To). */
    isCaller: boolean;
  } | null;
  wav: DeliveryArtifact | null;
  mp3: DeliveryArtifact | null;
}

export interface OffloadBatch {
  id: string;
  seq: number;
  cutAt: Date;
  csvName: string;
  csv: string;
  count: number;
  /** 'failed' after the configured number of attempts, until retried by hand. */
  state: 'queued' | 'transferring' | 'done' | 'failed';
  attempts: number;
  nextAttemptAt: Date;
  lastError: string | null;
  manifest: unknown;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export interface OffloadItem {
  recordingId: string;
  batchId: string;
  mediaName: string;
  bytes: number | null;
  sha256: string | null;
  transferredAt: Date | null;
  skipped: string | null;
  purgedAt: Date | null;
}

export type ExportDestination = 'primary' | 'secondary';

export interface ExportItem {
  recordingId: string;
  destination: ExportDestination;
  state: 'pending' | 'done' | 'failed';
  path: string | null;
  day: string | null;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: Date | null;
  exportedAt: Date | null;
  indexRow: Record<string, string> | null;
}

export interface NotificationFailure {
  recordingId: string;
  userId: string;
  email: string;
  state: 'pending' | 'failed';
  attempts: number;
  lastError: string;
  nextAttemptAt: Date | null;
}

/** What a manual retry put back in the queue. */
export interface RetryCounts {
  offload: number;
  export: number;
  notifications: number;
  journal: number;
}

/** A recording's journal message waiting to go out. */
export interface PendingJournal {
  recordingId: string;
  attempts: number;
}

export interface JournalFailure {
  recordingId: string;
  state: 'pending' | 'failed';
  attempts: number;
  lastError: string;
  nextAttemptAt: Date | null;
}

export interface PendingNotification {
  recordingId: string;
  userId: string;
  email: string;
  attach: boolean;
  attempts: number;
}

/** A user's email notification settings (table notification_subscriptions). */
export interface NotificationSubscription {
  email: string;
  /** An email for each stored recording of theirs. */
  enabled: boolean;
  /** The recording's MP3 attached (up to notifications.maxAttachmentBytes). */
  attach: boolean;
}

export interface TargetState {
  name: string;
  ok: boolean;
  lastOkAt: Date | null;
  lastError: string | null;
  lastErrorAt: Date | null;
  /** Consecutive failures (0 when ok). */
  failures: number;
  /** When an unreachable target is tried again (null when ok). */
  nextAttemptAt: Date | null;
}

export interface DeliveryStatus {
  targets: TargetState[];
  offload: { batches: OffloadBatch[]; queued: number; failed: number };
  export: { done: number; pending: number; failed: number; recentFailures: ExportItem[] };
  notifications: {
    sent: number;
    pending: number;
    failed: number;
    recentFailures: NotificationFailure[];
  };
  journal: { sent: number; pending: number; failed: number; recentFailures: JournalFailure[] };
}

/**
 * What /metrics reads of the delivery state, in one statement (src/store/deliveries/metrics.ts).
 * Times are unix seconds from the database clock; null when there is none.
 */
export interface DeliveryMetrics {
  offload: {
    /** Batches by state (every state, 0 when none). */
    batches: Record<OffloadBatch['state'], number>;
    /** Seconds since the oldest batch not done (queued, transferring or failed) was cut; 0 when none. */
    oldestPendingAgeSeconds: number;
    /** When the last batch was confirmed done. */
    lastDoneAt: number | null;
    /** Failed attempts of the batches not done (their attempts, less one running now). */
    failedAttempts: number;
  } | null;
  /** Health of the named targets that have one (delivery_targets). */
  targets: { name: string; ok: boolean; failures: number }[];
  export: {
    destination: ExportDestination;
    /** Stored recordings since export was enabled with no item or a pending one (not failed for good). */
    backlog: number;
    /** Items failed for good (after maxAttempts), waiting for a manual retry. */
    failed: number;
    /** Items that failed at least once and wait for their next attempt. */
    retrying: number;
    lastDoneAt: number | null;
  }[];
  notifications: Record<'pending' | 'sent' | 'failed', number> | null;
  journal: Record<'pending' | 'sent' | 'failed', number> | null;
}

/** A system audit entry (actor 'delivery'). */
export interface AuditNote {
  action: string;
  resource: string;
  resourceId: string;
  details: Record<string, unknown>;
}

export interface OffloadRepository {
  /** When delivery feature `name` was first enabled (set now on the first call). */
  cursor(name: string): Promise<Date>;
  recordings(ids: string[]): Promise<DeliveryRecording[]>;

  /**
   * Cuts the batch of interval boundary `cutAt` once (a second call for the same boundary, from
   * any node, returns the existing batch): every stored recording since `since` not yet in a batch
   * goes into it. `render` builds the CSV from the recordings (called inside the transaction).
   */
  cutBatch(
    cutAt: Date,
    since: Date,
    render: (
      batchId: string,
      recs: DeliveryRecording[],
    ) => { csvName: string; csv: string; mediaName: (r: DeliveryRecording) => string },
  ): Promise<{ batch: OffloadBatch; created: boolean }>;
  /** The oldest batch neither done nor failed (transfers go strictly in order). */
  nextBatch(): Promise<OffloadBatch | undefined>;
  lastCut(): Promise<Date | undefined>;
  batchItems(batchId: string): Promise<OffloadItem[]>;
  /** Counts an attempt and audits its start; false when the batch is done already. */
  startBatch(batchId: string): Promise<boolean>;
  itemTransferred(recordingId: string, bytes: number, sha256: string): Promise<void>;
  itemSkipped(recordingId: string, reason: string): Promise<void>;
  /** Records a failed attempt (audited); with `giveUp` the batch becomes 'failed'. */
  batchFailed(batchId: string, error: string, nextAttemptAt: Date, giveUp: boolean): Promise<void>;
  batchDone(batchId: string, manifest: unknown): Promise<void>;
  /** Transferred items of done batches not yet purged (purge after confirmed transfer). */
  purgeDue(limit: number): Promise<OffloadItem[]>;
  /** Marks the recording purged (unless preserved) with an audit entry; returns its file paths to wipe. */
  purgeRecording(recordingId: string, batchId: string): Promise<string[] | undefined>;
  /** Files of recordings purged after offload since `since` (to finish wipes a crash interrupted). */
  recentlyPurgedFiles(since: Date): Promise<{ recordingId: string; path: string }[]>;
  listBatches(limit: number): Promise<OffloadBatch[]>;

  /** Stored recordings since `since` not yet exported to `dest` and due (not waiting for a retry). */
  exportDue(
    dest: ExportDestination,
    since: Date,
    limit: number,
  ): Promise<{ id: string; path: string | null; attempts: number }[]>;
  exportPath(recordingId: string, dest: ExportDestination, path: string, day: string): Promise<void>;
  exportDone(
    recordingId: string,
    dest: ExportDestination,
    r: { bytes: number; sha256: string; indexRow: Record<string, string>; target: string },
  ): Promise<void>;
  exportFailed(
    recordingId: string,
    dest: ExportDestination,
    error: string,
    nextAttemptAt: Date,
    giveUp: boolean,
  ): Promise<void>;
  /** Index rows of a day's exported recordings, in the order they were exported. */
  exportIndex(dest: ExportDestination, day: string): Promise<Record<string, string>[]>;
  /** The size of the day's index as the export last wrote it (migration 042), if it did. */
  exportIndexBytes(dest: ExportDestination, day: string): Promise<number | undefined>;
  /** Records the size of the day's index just written (after its rows count as done). */
  exportIndexWritten(dest: ExportDestination, day: string, bytes: number): Promise<void>;

  /**
   * The config file's seed (notifications.recipients, at start): creates/updates a subscription by
   * username, unless the user's settings were changed through the API since (an audited
   * `notification-settings.update`), which then stand. False when there is no such user.
   */
  subscribe(username: string, email: string, attach: boolean, enabled: boolean): Promise<boolean>;
  /** A user's settings; undefined when they have none. */
  subscription(userId: string): Promise<NotificationSubscription | undefined>;
  /** Every user's settings, by user id (the users CSV). */
  allSubscriptions(): Promise<Map<string, NotificationSubscription>>;
  /** Sets (or with null removes) a user's settings; what they were and are now. */
  setSubscription(
    userId: string,
    to: NotificationSubscription | null,
  ): Promise<{ from: NotificationSubscription | null; to: NotificationSubscription | null }>;
  /** Queues one notification per subscribed recorded user of every recording stored since `since`; returns the due ones. */
  notificationsDue(since: Date, limit: number): Promise<PendingNotification[]>;
  notificationSent(n: PendingNotification, r: { attachmentBytes: number; messageId: string }): Promise<void>;
  notificationFailed(
    n: PendingNotification,
    error: string,
    nextAttemptAt: Date,
    giveUp: boolean,
  ): Promise<void>;
  /** Queues a journal message for every recording stored since `since`; returns the due ones. */
  journalDue(since: Date, limit: number): Promise<PendingJournal[]>;
  /** The mailbox accepted the message (audited 'journal.sent'; once, whatever a retry does). */
  journalSent(recordingId: string, r: { messageId: string; bytes: number; to: string }): Promise<void>;
  /** A failed attempt (audited 'journal.error'); with `giveUp` the message is 'failed' ('journal.failed'). */
  journalFailed(recordingId: string, error: string, nextAttemptAt: Date, giveUp: boolean): Promise<void>;
  /** Sent messages whose recording is not purged yet (purge after transfer), oldest first. */
  journalPurgeDue(limit: number): Promise<string[]>;
  /** Marks the recording purged (unless preserved) with an audit entry; returns its file paths to wipe. */
  journalPurge(recordingId: string): Promise<string[] | undefined>;
  /**
   * Re-queues, due now and with a fresh attempt budget, every failed offload batch, export item,
   * notification and journal message, and those waiting for a retry after an error; unreachable targets are tried
   * again at once. Audited ('delivery.requeue').
   */
  retryFailed(actor?: string): Promise<RetryCounts>;
  /** Whether target `name` may be tried now (not waiting for its backoff). */
  targetDue(name: string): Promise<boolean>;

  /**
   * Runs `fn` holding a cluster-wide lock named `name` (one node at a time); undefined when another
   * node holds it. With `opts.shared`, also holds that name in shared mode (any number of shared
   * holders at once, none while a node holds it exclusively).
   */
  exclusive<T>(name: string, fn: () => Promise<T>, opts?: { shared?: string }): Promise<T | undefined>;
  targetOk(name: string): Promise<void>;
  /**
   * Records a failure of target `name`; it is tried again after `backoff(failures)` ms. Audited
   * when the target goes down ('delivery.target.down'); targetOk audits it coming back.
   */
  targetError(name: string, error: string, backoff?: (failures: number) => number): Promise<void>;
  status(): Promise<DeliveryStatus>;
  /**
   * The figures /metrics shows, in one statement: offload batches (when `offload`), the health of
   * `targets`, export per destination in `exportTo`, notifications (when `notifications`).
   */
  deliveryMetrics(o: {
    offload: boolean;
    targets: string[];
    exportTo: ExportDestination[];
    notifications: boolean;
    journal?: boolean;
  }): Promise<DeliveryMetrics>;
}
