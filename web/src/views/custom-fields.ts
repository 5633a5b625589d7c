import { api, send } from '../api.js';
import { filterForm, grid, h, list, outcome, td } from '../dom.js';
import { t, tp } from '../i18n.js';

/**
 * Custom fields (admin-defined per-recording fields: an order number, a ticket, a campaign):
 * their definitions as the API gives them, the input of one field (text, date or a select of its
 * options), the "Fields" section of a recording's details (editable by admins) and the "Custom
 * fields" card of Settings (define and delete). The recordings list shows them as columns and
 * filters on them (recordings.ts).
 */

export interface CustomField {
  name: string;
  label: string;
  type: 'text' | 'date' | 'option';
  options: string[];
  createdAt: string;
}

/** A recording's values by field name (only the fields that have one). */
export type FieldValues = Record<string, string>;

const TYPES: CustomField['type'][] = ['text', 'date', 'option'];

/** A field type as people read it (in the language shown now; the API's value if unknown). */
function typeLabel(type: string): string {
  const labels: Record<string, string> = { text: t('Text'), date: t('Date'), option: t('Option') };
  return labels[type] ?? type;
}

/** The defined fields in display order; none when they cannot be read (an older server). */
export const loadCustomFields = (): Promise<CustomField[]> =>
  api<{ items: CustomField[] }>('/custom-fields').then(
    (r) => r.items,
    () => [],
  );

/** The input of one field: a text input, a date input, or a select of an empty choice and its options. */
export function fieldControl(
  f: CustomField,
  id: string,
  value = '',
  empty = '',
): HTMLInputElement | HTMLSelectElement {
  if (f.type === 'option') {
    const known = f.options.includes(value) || value === '' ? f.options : [value, ...f.options];
    return h(
      'select',
      { id, 'data-field': f.name },
      h('option', { value: '', selected: value === '' }, empty),
      ...known.map((o) => h('option', { value: o, selected: o === value }, o)),
    );
  }
  return h('input', {
    id,
    'data-field': f.name,
    type: f.type === 'date' ? 'date' : 'text',
    value,
    maxLength: 1000,
    size: f.type === 'date' ? undefined : 30,
  });
}

/**
 * The "Fields" section of a recording: label: value for each defined field, or for admins an
 * input per field and one Save (every field sent, an empty one as null, which clears it).
 */
export function fieldsSection(
  defs: CustomField[],
  values: FieldValues,
  opts: {
    editable: boolean;
    msg: ReturnType<typeof outcome>;
    save: (f: Record<string, string | null>) => Promise<unknown>;
  },
): HTMLElement | '' {
  if (!defs.length)
    return opts.editable
      ? h(
          'div',
          { class: 'card', id: 'fields' },
          h('h3', {}, t('Fields')),
          h('p', { class: 'muted' }, t('No custom fields are defined (Settings › Custom fields).')),
        )
      : '';
  if (!opts.editable)
    return h(
      'div',
      { class: 'card', id: 'fields' },
      h('h3', {}, t('Fields')),
      h(
        'dl',
        { class: 'fields' },
        ...defs.flatMap((f) => [
          h('dt', {}, f.label),
          h('dd', { class: 'field-value', 'data-field': f.name }, values[f.name] ?? '–'),
        ]),
      ),
    );
  const inputs = defs.map(
    (f) => [f, fieldControl(f, `field-input-${f.name}`, values[f.name] ?? '')] as const,
  );
  const save = (): void => {
    const body = Object.fromEntries(inputs.map(([f, el]) => [f.name, el.value.trim() || null]));
    opts.save(body).catch((e: Error) => opts.msg.fail(e));
  };
  return h(
    'div',
    { class: 'card', id: 'fields' },
    h('h3', {}, t('Fields')),
    filterForm(
      save,
      ...inputs.map(([f, el]) => h('label', {}, f.label, el)),
      h('button', { class: 'primary', type: 'submit', id: 'save-fields' }, t('Save fields')),
    ),
    opts.msg.el,
  );
}

/** "Order # = 10001, Campaign = Campaign B" (the labels of the fields set). */
export const describeValues = (defs: CustomField[], values: FieldValues): string => {
  const set = defs.filter((f) => values[f.name] !== undefined);
  return set.length ? set.map((f) => `${f.label} = ${values[f.name]}`).join(', ') : t('no values');
};

/** Settings' "Custom fields" card (admins): the fields with a Delete each, and a form to add one. */
export function customFieldsCard(): HTMLElement {
  const msg = outcome('custom-fields-msg');
  const box = h('div', {}, t('Loading…'));
  const name = h('input', { id: 'add-field-name', placeholder: t('name (order_no)'), autocomplete: 'off' });
  const label = h('input', { id: 'add-field-label', placeholder: t('label (Order #)') });
  const type = h(
    'select',
    { id: 'add-field-type' },
    ...TYPES.map((v) => h('option', { value: v }, typeLabel(v))),
  );
  const options = h('input', { id: 'add-field-options', placeholder: t('options (A, B, C)'), size: 30 });
  const optionsLabel = h('label', { id: 'add-field-options-label' }, t('Options'), options);
  const showOptions = () => (optionsLabel.style.display = type.value === 'option' ? '' : 'none');
  type.addEventListener('change', showOptions);
  showOptions();

  const add = (): void => {
    const body: Record<string, unknown> = {
      name: name.value.trim(),
      label: label.value.trim(),
      type: type.value,
    };
    if (type.value === 'option') body.options = list(options.value);
    send<CustomField>('POST', '/custom-fields', body).then(
      (f) => {
        const added = { label: f.label, name: f.name, type: typeLabel(f.type) };
        msg.ok(
          f.options.length
            ? t('added {label} ({name}, {type}: {options})', { ...added, options: f.options.join(', ') })
            : t('added {label} ({name}, {type})', added),
        );
        name.value = label.value = options.value = '';
        void load();
      },
      (e: Error) => msg.fail(e),
    );
  };
  const remove = (f: CustomField): void => {
    if (
      !confirm(
        t('Delete the field {label} ({name}) and its value on every recording?', {
          label: f.label,
          name: f.name,
        }),
      )
    )
      return;
    send<{ deleted: string; values: number }>('DELETE', `/custom-fields/${encodeURIComponent(f.name)}`).then(
      (r) => {
        msg.ok(
          tp(
            r.values,
            'deleted {name}: {n} recording value removed',
            'deleted {name}: {n} recording values removed',
            { name: r.deleted },
          ),
        );
        void load();
      },
      (e: Error) => msg.fail(e),
    );
  };
  const load = async (): Promise<void> => {
    const r = await api<{ items: CustomField[] }>('/custom-fields');
    box.replaceChildren(
      r.items.length
        ? grid(
            'custom-fields',
            [t('Name'), t('Label'), t('Type'), t('Options'), ''],
            r.items.map((f) =>
              h(
                'tr',
                { class: 'custom-field-row', 'data-name': f.name },
                td(h('code', {}, f.name)),
                td(f.label),
                td(typeLabel(f.type)),
                td(f.options.join(', ')),
                td(h('button', { class: 'danger delete-field', onclick: () => remove(f) }, t('Delete'))),
              ),
            ),
          )
        : h('p', { id: 'custom-fields', class: 'muted' }, t('No custom fields yet.')),
    );
  };
  const form = filterForm(
    add,
    h('label', {}, t('Name'), name),
    h('label', {}, t('Label'), label),
    h('label', {}, t('Type'), type),
    optionsLabel,
    h('button', { class: 'primary', type: 'submit', id: 'add-field' }, t('Add field')),
  );
  form.id = 'add-field-form';
  load().catch((e: Error) => msg.fail(e));
  return h(
    'div',
    { class: 'card', id: 'custom-fields-card' },
    h('h3', {}, t('Custom fields')),
    h(
      'p',
      { class: 'muted' },
      t(
        'Fields set per recording (an order number, a ticket, a campaign): shown as columns in the recordings list and in the details, searchable; only administrators set their values.',
      ),
    ),
    box,
    form,
    msg.el,
  );
}
