// Toasts (#toasts): short notes over the stage, two at most, gone after a few seconds; and a
// server refusal in the reader's language.

import { t, tn, has } from './i18n.js';
import { el } from './format.js';

export function toast(text, kind = 'info') {
  const box = document.getElementById('toasts');
  // The same message again (a key held down) renews the one on screen instead of stacking.
  const same = [...box.children].find((n) => n.textContent === text && !n.classList.contains('leaving'));
  const node = same || el('div', { class: `toast toast-${kind}`, role: 'status' }, text);
  if (!same) box.append(node);
  while (box.children.length > 2) box.firstChild.remove(); // two at most: the stage stays in view
  clearTimeout(node.leaveTimer);
  clearTimeout(node.removeTimer);
  node.leaveTimer = setTimeout(() => node.classList.add('leaving'), 4200);
  node.removeTimer = setTimeout(() => node.remove(), 4700);
}

/** A server refusal in the reader's language: its translation key when the page has it, else its English. */
export function errorText(p) {
  if (!p) return t('error.unknown');
  if (p.key && has(p.key)) {
    const args = { ...(p.args || {}) };
    if (args.timer !== undefined) args.timer = tn('timer', args.timer);
    return t(p.key, args);
  }
  return p.message || t('error.unknown');
}
