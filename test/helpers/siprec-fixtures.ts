import { readFileSync } from 'node:fs';

/**
 * SIPREC fixtures for the parser tests: test/fixtures/siprec/ (the OpenSIPS bodies are byte-exact
 * from the captures) and every multipart body we hold with the Content-Type it came with.
 */

export const fixture = (name: string): string =>
  readFileSync(new URL(`../fixtures/siprec/${name}`, import.meta.url), 'utf8');

export const toLf = (s: string): string => s.replace(/\r\n/g, '\n');
export const toCrlf = (s: string): string => toLf(s).replace(/\n/g, '\r\n');

/** Every SIPREC multipart body we hold, with the Content-Type header it came with. */
export const BODIES = [
  {
    name: 'OpenSIPS 3.4 initial INVITE (capture)',
    file: 'opensips-3.4-invite.body',
    contentType: 'multipart/mixed;boundary=OSS-unique-boundary-42',
    otherParts: [] as string[],
  },
  {
    name: 'OpenSIPS 3.4 pause re-INVITE (capture)',
    file: 'opensips-3.4-pause-reinvite.body',
    contentType: 'multipart/mixed;boundary=OSS-unique-boundary-42',
    otherParts: [],
  },
  {
    name: 'Avaya SBCE: metadata first, quoted boundary after a space, dataMode',
    file: 'avaya-sbce.body',
    contentType: 'multipart/mixed; boundary="avaya_sbce_8d2f1e"',
    otherParts: [],
  },
  {
    name: 'Cisco: application/gtd part, session;handling=required, mixed-case type',
    file: 'cisco-gtd.body',
    contentType: 'Multipart/Mixed ; boundary=uniqueBoundary',
    otherParts: ['application/gtd'],
  },
  {
    name: 'Oracle/Acme draft: bare LF, compact c:, rs-metadata without +xml, blank lines in XML',
    file: 'oracle-draft-lf.body',
    contentType: 'multipart/mixed;boundary=unique-boundary-1',
    otherParts: [],
  },
  {
    name: 'Ribbon: boundary not the last parameter, preamble and epilogue',
    file: 'ribbon.body',
    contentType: 'multipart/mixed; boundary=sonus-content-delim; charset=UTF-8',
    otherParts: [],
  },
  {
    name: 'BroadWorks: lower-case headers without space, no close delimiter, bare LF',
    file: 'broadworks-lf.body',
    contentType: 'multipart/mixed;boundary=BroadWorksBoundary_0',
    otherParts: [],
  },
];
