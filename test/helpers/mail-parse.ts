/** A header value with its RFC 2047 encoded words (`=?UTF-8?Q?...?=`, `?B?`) decoded. */
export function decodeWords(v: string): string {
  return v
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g, (_, _charset: string, enc: string, text: string) =>
      enc.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64').toString('utf8')
        : Buffer.from(
            text
              .replace(/_/g, ' ')
              .replace(/=([0-9A-Fa-f]{2})/g, (_m, x: string) => String.fromCharCode(parseInt(x, 16))),
            'latin1',
          ).toString('utf8'),
    );
}

/** Headers (encoded words decoded), text part and attachments of a message as nodemailer builds it (multipart/mixed). */
export function parseMail(raw: string): {
  headers: Record<string, string>;
  text: string;
  attachments: { name: string; type: string; data: Buffer }[];
} {
  const [head = '', ...rest] = raw.split(/\r\n\r\n/);
  const body = rest.join('\r\n\r\n');
  const headers: Record<string, string> = {};
  for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).toLowerCase()] = decodeWords(line.slice(i + 1).trim());
  }
  const decode = (h: Record<string, string>, b: string): Buffer => {
    const enc = (h['content-transfer-encoding'] ?? '7bit').toLowerCase();
    if (enc === 'base64') return Buffer.from(b.replace(/\s+/g, ''), 'base64');
    if (enc === 'quoted-printable')
      return Buffer.from(
        b
          .replace(/=\r\n/g, '')
          .replace(/=([0-9A-F]{2})/g, (_, x: string) => String.fromCharCode(parseInt(x, 16))),
        'latin1',
      );
    return Buffer.from(b, 'utf8');
  };
  const ct = headers['content-type'] ?? '';
  const boundary = /boundary="?([^";]+)"?/.exec(ct)?.[1];
  if (!boundary)
    return {
      headers,
      text: decode(headers, body).toString('utf8').replace(/\r\n/g, '\n').replace(/\n$/, ''),
      attachments: [],
    };
  let text = '';
  const attachments: { name: string; type: string; data: Buffer }[] = [];
  for (const part of body.split(`--${boundary}`).slice(1)) {
    if (part.startsWith('--')) break;
    const [ph = '', ...pb] = part.replace(/^\r\n/, '').split(/\r\n\r\n/);
    const h: Record<string, string> = {};
    for (const line of ph.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0) h[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    const data = decode(h, pb.join('\r\n\r\n').replace(/\r\n$/, ''));
    if ((h['content-disposition'] ?? '').startsWith('attachment'))
      attachments.push({
        name: /filename="?([^";]+)"?/.exec(h['content-disposition'] ?? '')?.[1] ?? '',
        type: (h['content-type'] ?? '').split(';')[0] ?? '',
        data,
      });
    else if ((h['content-type'] ?? '').startsWith('text/plain'))
      text = data.toString('utf8').replace(/\r\n/g, '\n');
  }
  return { headers, text, attachments };
}
