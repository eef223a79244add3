// A small path router over the History API: the current path as a signal-like hook, and
// navigation without reloading. Routes are matched by the App component.

import { useEffect, useState } from 'preact/hooks';

const listeners = new Set<() => void>();

/** Goes to `path` (pushes a history entry) and re-renders the app. */
export function navigate(path: string): void {
  if (path !== location.pathname + location.hash) history.pushState(null, '', path);
  window.scrollTo(0, 0);
  for (const l of listeners) l();
}

window.addEventListener('popstate', () => {
  for (const l of listeners) l();
});

/** The current path, updated on navigation. */
export function usePath(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const l = (): void => setPath(location.pathname);
    listeners.add(l);
    return () => listeners.delete(l);
  }, []);
  return path;
}

/** An `onClick` for links that navigates inside the app. */
export function linkTo(path: string): (e: MouseEvent) => void {
  return (e: MouseEvent) => {
    if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    navigate(path);
  };
}

/** Matches `/a/:account/...` paths: the account and the rest's segments. */
export function accountPath(path: string): { account: string; rest: string[] } | null {
  const segs = path.split('/').filter((s) => s !== '');
  if (segs[0] !== 'a' || segs[1] === undefined) return null;
  return { account: decodeURIComponent(segs[1]), rest: segs.slice(2).map(decodeURIComponent) };
}
