// A link inside the app (no page reload).

import type { ComponentChildren, JSX } from 'preact';
import { linkTo } from '../router';

export function Link(p: { href: string; class?: string; children: ComponentChildren }): JSX.Element {
  return (
    <a href={p.href} class={p.class} onClick={linkTo(p.href)}>
      {p.children}
    </a>
  );
}
