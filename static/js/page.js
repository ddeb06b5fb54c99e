// Pages without a simulation (gallery, error): translate them. The gallery
// embeds every protocol's describe(); their strings are merged under
// "p:<name>:<key>" so one page can hold many protocols.

import { initI18n, addStrings, onLangChange, t } from './i18n.js';

const data = document.getElementById('protocols-data');
if (data) {
  try {
    for (const p of JSON.parse(data.textContent) || []) addStrings(p.strings, `p:${p.name}:`);
  } catch {
    /* an unreadable list only costs translations */
  }
}
// Role colours come as data (a style attribute would need 'unsafe-inline' in the CSP):
// set through the CSSOM, which the policy allows.
for (const dot of document.querySelectorAll('[data-role-colour]')) {
  dot.style.setProperty('--role', dot.dataset.roleColour);
}
// The tab's title follows the language too: the page's heading, then the app's name.
function setTitle() {
  const heading = document.querySelector('.error-title');
  document.title = heading ? `${heading.textContent} · ${t('app.name')}` : t('app.name');
}

await initI18n();
setTitle();
onLangChange(setTitle);
