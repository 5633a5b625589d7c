/** The media engine's public face: types, loading, mixing and the RTP port pool. */
export type * from './types.js';
export { DECODABLE } from './types.js';
export {
  defaultAddonPath,
  loadMediaEngine,
  MediaEngineLoadError,
  mixSpool,
  pausedSpans,
  PortInUseError,
  readPausedSpans,
  SESSION_FILE,
  spoolFilePath,
} from './engine.js';
export type { LoadMediaEngineOptions, SessionFile } from './engine.js';
export { PortPool } from './ports.js';
export { PENDING_MARKER_FILE, parseSpool, readPendingMarker, summarizeSpoolDir } from './spool.js';
export type { ParsedSpool, PendingMarker, SpoolDirSummary, SpoolLegSummary, SpoolRecord } from './spool.js';
