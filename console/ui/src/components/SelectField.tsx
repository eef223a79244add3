// A labelled select with its help text and inline error message.

import type { ComponentChildren, JSX } from 'preact';

interface Props {
  label: string;
  name: string;
  value: string;
  options: { value: string; label: string }[];
  onChange: (value: string) => void;
  error?: string | undefined;
  help?: ComponentChildren;
}

export function SelectField(p: Props): JSX.Element {
  const id = `f-${p.name}`;
  return (
    <div class="field">
      <label for={id}>{p.label}</label>
      <select
        id={id}
        name={p.name}
        value={p.value}
        aria-invalid={p.error !== undefined ? 'true' : 'false'}
        onChange={(e) => p.onChange(e.currentTarget.value)}
      >
        {p.options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      {p.help !== undefined && <p class="help">{p.help}</p>}
      {p.error !== undefined && (
        <p class="error" data-error-for={p.name}>
          {p.error}
        </p>
      )}
    </div>
  );
}
