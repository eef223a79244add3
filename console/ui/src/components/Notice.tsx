// A message box: an error, a success, or a warning.

import type { ComponentChildren, JSX } from 'preact';

export function Notice(p: { kind: 'bad' | 'ok' | 'warn'; children: ComponentChildren }): JSX.Element {
  return (
    <div class={`notice ${p.kind}`} role={p.kind === 'bad' ? 'alert' : 'status'}>
      {p.children}
    </div>
  );
}
