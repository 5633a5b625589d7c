/**
 * Custom field values an SRC sends with its INVITE (config sip.fieldsFrom / SRS_FIELDS_FROM_SIP):
 * a header's value (an order number in `X-Order-Id`, Avaya's UCID in `User-to-User`), or the text
 * of a metadata element found by its local name in any namespace (vendor extension data such as
 * `<ext:ticket>`). The recording gets them as its custom fields (docs/api.md#custom-fields).
 */
import { allElements, norm, readXml } from './xml.js';

export interface FieldSource {
  field: string;
  from: 'header' | 'metadata';
  /** The header's name, or the metadata element's local name. */
  name: string;
}

/** At most this much of a value is kept (a custom text field holds 1,000 characters). */
const MAX_VALUE = 1000;

/**
 * The values of `sources` in one INVITE, by field name: the first header of that name, or the
 * first leaf element of that local name (compared like the metadata's names: case and `-`/`_`
 * ignored); sources with no value, or whose value is blank, are left out. Metadata that does not
 * parse gives nothing (the call is recorded without it either way).
 */
export function sipFieldValues(
  header: (name: string) => string | undefined,
  metadataXml: string | null,
  sources: readonly FieldSource[],
): Record<string, string> {
  const out: Record<string, string> = {};
  let leaves: Map<string, string> | null | undefined;
  const metadataLeaf = (name: string): string | undefined => {
    if (leaves === undefined) {
      leaves = null;
      if (metadataXml) {
        try {
          const found = new Map<string, string>();
          for (const el of allElements(readXml(metadataXml)))
            if (el.children.length === 0 && el.text.trim() !== '' && !found.has(el.key))
              found.set(el.key, el.text);
          leaves = found;
        } catch {
          // Unreadable metadata: no values from it.
        }
      }
    }
    return leaves?.get(norm(name));
  };
  for (const s of sources) {
    if (out[s.field] !== undefined) continue;
    const raw = s.from === 'header' ? header(s.name) : metadataLeaf(s.name);
    const value = raw?.replace(/\0/g, '').trim();
    if (value) out[s.field] = value.slice(0, MAX_VALUE);
  }
  return out;
}
