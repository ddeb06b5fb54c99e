// Loaded (not a module, not deferred) from <head>: pick the language before first paint so
// a Chinese reader never sees the page flash in English. A file rather than an inline script,
// so the Content-Security-Policy can forbid inline script (playground/headers.py).
(function () {
  var l = null;
  try { l = localStorage.getItem('pp.lang'); } catch (e) { l = null; }
  if (l !== 'en' && l !== 'zh') l = /^zh/i.test(navigator.language || '') ? 'zh' : 'en';
  var root = document.documentElement;
  if (l === 'zh') root.lang = 'zh-CN'; else root.classList.remove('i18n-pending');
  setTimeout(function () { root.classList.remove('i18n-pending'); }, 1500);
})();
