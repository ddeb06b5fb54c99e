// Pages without a simulation (gallery, error): translate them. The gallery
// embeds every protocol's describe(); their strings are merged under
// "p:<name>:<key>" so one page can hold many protocols.

import { initI18n, addEmbeddedStrings, onLangChange, t } from './i18n.js';
import { recallRun } from './restore.js';

// "Session not found" for a live session's page: when this tab kept the session's run (its
// token too long for the address bar), open the play page to rebuild it from sessionStorage
// (kept=1: docs/socket-api.md). Nothing kept: this page stays, as it says.
function rebuildFromStorage() {
  if (!document.querySelector('.error-message[data-i18n="error.page.no_session"]')) return false;
  const m = /^\/play\/([^/]+)$/.exec(location.pathname);
  const q = new URLSearchParams(location.search);
  const session = q.get('session');
  if (!m || !session || q.has('kept')) return false;
  const kept = recallRun(session);
  if (!kept || kept.protocol !== decodeURIComponent(m[1])) return false;
  location.replace(`${location.pathname}?session=${encodeURIComponent(session)}&kept=1`);
  return true;
}

// Its protocols' words and its own (the guide's, the header's link to it), embedded by the server.
addEmbeddedStrings();
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

if (!rebuildFromStorage()) {
  await initI18n();
  setTitle();
}
onLangChange(setTitle);
