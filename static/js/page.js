// Pages without a simulation (gallery, error): translate them. The gallery
// embeds every protocol's describe(); their strings are merged under
// "p:<name>:<key>" so one page can hold many protocols.

import { initI18n, addStrings } from './i18n.js';

const data = document.getElementById('protocols-data');
if (data) {
  try {
    for (const p of JSON.parse(data.textContent) || []) addStrings(p.strings, `p:${p.name}:`);
  } catch {
    /* an unreadable list only costs translations */
  }
}
await initI18n();
