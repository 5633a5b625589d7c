/** Every view's translations, registered once at start (web/src/main.ts). */
import type { Catalogue } from '../i18n.js';
import { account } from './account.js';
import { auditText } from './audit-text.js';
import { audit } from './audit.js';
import { capacity } from './capacity.js';
import { customFields } from './custom-fields.js';
import { dashboard } from './dashboard.js';
import { delivery } from './delivery.js';
import { evaluations } from './evaluations.js';
import { keys } from './keys.js';
import { live } from './live.js';
import { login } from './login.js';
import { recording } from './recording.js';
import { recordingControl } from './recording-control.js';
import { recordingFilters } from './recording-filters.js';
import { recordingIntegrity } from './recording-integrity.js';
import { recordings } from './recordings.js';
import { reports } from './reports.js';
import { retention } from './retention.js';
import { savedSearches } from './saved-searches.js';
import { settings } from './settings.js';
import { shell } from './shell.js';
import { tokens } from './tokens.js';
import { users } from './users.js';
import { usersDirectory } from './users-directory.js';
import { usersImport } from './users-import.js';

export const CATALOGUES: Catalogue[] = [
  account,
  auditText,
  audit,
  capacity,
  customFields,
  dashboard,
  delivery,
  evaluations,
  keys,
  live,
  login,
  recording,
  recordingControl,
  recordingFilters,
  recordingIntegrity,
  recordings,
  reports,
  retention,
  savedSearches,
  settings,
  shell,
  tokens,
  users,
  usersDirectory,
  usersImport,
];
