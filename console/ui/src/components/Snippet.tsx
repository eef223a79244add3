// A code snippet with a copy button.

import type { JSX } from 'preact';
import { useState } from 'preact/hooks';

export function Snippet(p: { title: string; code: string; name: string }): JSX.Element {
  const [copied, setCopied] = useState('');
  const copy = async (): Promise<void> => {
    try {
      await navigator.clipboard.writeText(p.code);
      setCopied('Copied.');
    } catch {
      setCopied('Copying is not allowed here: select the text and copy it.');
    }
    setTimeout(() => setCopied(''), 4000);
  };
  return (
    <div class="snippet-box" data-snippet={p.name}>
      <div class="actions">
        <h3>{p.title}</h3>
        <button class="secondary" type="button" onClick={() => void copy()} data-copy={p.name}>
          Copy
        </button>
        <span class="small muted" role="status">
          {copied}
        </span>
      </div>
      <pre class="snippet">
        <code>{p.code}</code>
      </pre>
    </div>
  );
}
