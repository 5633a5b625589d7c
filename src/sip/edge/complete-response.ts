/**
 * How the edge completes an app's response to a network request before sending it: the request's
 * Via, Record-Route (dialog-forming answers), From, To (with the dialog's tag), Call-ID and CSeq,
 * the Contact, then the app's own headers and body, in the order drachtio-server 0.9 writes them.
 */
import { DIALOG_METHODS, REASONS, appHeaders } from './context.js';
import type { EdgeContext } from './context.js';
import { canonicalName, getHeader, getHeaders, getTag } from './message.js';
import type { SipHeader, SipResponse } from './message.js';
import type { ServerTxn } from './transactions.js';

/** Headers of a response the edge completes for the app, in drachtio-server's order. */
export function completeResponse(ctx: EdgeContext, txn: ServerTxn, app: SipResponse): SipResponse {
  const req = txn.request;
  const status = app.status;
  const headers: SipHeader[] = [];
  for (const h of req.headers)
    if (canonicalName(h.name) === 'via') headers.push({ name: 'Via', value: h.value });
  const formsDialog = DIALOG_METHODS.has(req.method) && status > 100 && status < 300;
  if (formsDialog)
    for (const rr of getHeaders(req, 'record-route')) headers.push({ name: 'Record-Route', value: rr });
  const to = getHeader(req, 'to') ?? '';
  let toValue = to;
  if (status > 100 && !getTag(to)) {
    const appTag = getTag(getHeader(app, 'to'));
    if (appTag) txn.toTag = appTag;
    toValue = `${to};tag=${txn.toTag}`;
  }
  headers.push(
    { name: 'From', value: getHeader(req, 'from') ?? '' },
    { name: 'To', value: toValue },
    { name: 'Call-ID', value: getHeader(req, 'call-id') ?? '' },
    { name: 'CSeq', value: getHeader(req, 'cseq') ?? '' },
  );
  const appContact = getHeaders(app, 'contact');
  if (formsDialog || (req.method === 'UPDATE' && status >= 200 && status < 300)) {
    headers.push({
      name: 'Contact',
      value: ctx.mergeContact(appContact.join(', ') || undefined, txn.peer.transport),
    });
  } else if (appContact.length) {
    headers.push({ name: 'Contact', value: appContact.join(', ') });
  }
  const { known, extension } = appHeaders(app);
  headers.push(...known);
  const ct = getHeader(app, 'content-type') ?? (app.body.length ? 'application/sdp' : undefined);
  if (ct) headers.push({ name: 'Content-Type', value: ct });
  headers.push({ name: 'Content-Length', value: String(app.body.length) }, ...extension);
  return {
    type: 'response',
    version: '2.0',
    status,
    reason: app.reason || REASONS[status] || '',
    headers,
    body: app.body,
  };
}
