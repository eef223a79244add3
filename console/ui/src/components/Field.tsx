// A labelled form input with its help text and its inline error message.

import type { ComponentChildren, InputHTMLAttributes, JSX, TargetedEvent } from 'preact';

interface Props {
  label: string;
  name: string;
  value: string;
  onInput: (value: string) => void;
  error?: string | undefined;
  help?: ComponentChildren;
  type?: 'text' | 'email' | 'password' | 'number' | 'datetime-local';
  placeholder?: string;
  autoComplete?: string;
  multiline?: boolean;
  rows?: number;
  min?: number;
}

export function Field(p: Props): JSX.Element {
  const id = `f-${p.name}`;
  const common = {
    id,
    name: p.name,
    value: p.value,
    'aria-invalid': p.error !== undefined ? 'true' : 'false',
    'aria-describedby': p.error !== undefined ? `${id}-error` : undefined,
    placeholder: p.placeholder,
    onInput: (e: TargetedEvent<HTMLInputElement | HTMLTextAreaElement>) => p.onInput(e.currentTarget.value),
  } as const;
  // One attribute object: Preact's input types depend on `type`, which is a prop here.
  const inputProps = { ...common, type: p.type ?? 'text', autoComplete: p.autoComplete, min: p.min };
  return (
    <div class="field">
      <label for={id}>{p.label}</label>
      {p.multiline === true ? (
        <textarea {...common} rows={p.rows ?? 5} />
      ) : (
        <input {...(inputProps as InputHTMLAttributes<HTMLInputElement>)} />
      )}
      {p.help !== undefined && <p class="help">{p.help}</p>}
      {p.error !== undefined && (
        <p class="error" id={`${id}-error`} data-error-for={p.name}>
          {p.error}
        </p>
      )}
    </div>
  );
}
