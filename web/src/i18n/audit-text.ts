import type { Catalogue } from '../i18n.js';
import { es } from './audit-text/es.js';
import { fr } from './audit-text/fr.js';
import { ptBR } from './audit-text/pt-BR.js';
import { ru } from './audit-text/ru.js';

/** Translations of the strings of web/src/audit-text.ts, one file per language (they are long). */
export const auditText: Catalogue = { es, fr, 'pt-BR': ptBR, ru };
