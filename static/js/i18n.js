// Translation: t(key, args) with {arg} placeholders over en/zh dictionaries
// (static/i18n/*.json) plus strings a protocol declares ({key: {en, zh}}).
// Elements carry data-i18n="key" (English inside is the fallback) and
// data-i18n-attr="title:key; placeholder:key2" for attributes.

export const LANGS = ['en', 'zh'];
const STORE_KEY = 'pp.lang';
const dicts = { en: {}, zh: {} };
const listeners = new Set();
const originals = new WeakMap(); // element -> English text found in the template
let lang = 'en';

export function getLang() {
  return lang;
}

export function preferredLang() {
  let stored = null;
  try {
    stored = localStorage.getItem(STORE_KEY);
  } catch {
    stored = null;
  }
  if (LANGS.includes(stored)) return stored;
  const nav = (navigator.languages && navigator.languages[0]) || navigator.language || 'en';
  return /^zh/i.test(nav) ? 'zh' : 'en';
}

/** Merge {key: {en, zh}} strings (a protocol's describe().strings), optionally under a prefix. */
export function addStrings(strings, prefix = '') {
  if (!strings || typeof strings !== 'object') return;
  for (const [key, val] of Object.entries(strings)) {
    if (typeof val === 'string') {
      dicts.en[prefix + key] = val;
    } else if (val && typeof val === 'object') {
      for (const l of LANGS) if (typeof val[l] === 'string') dicts[l][prefix + key] = val[l];
    }
  }
}

/** The words a page's server embedded: its protocols' (`#protocols-data`: [{name, strings}],
 *  merged under "p:<name>:") and its own (`script.page-strings`: {key: {en, zh}}). An
 *  unreadable block only costs its translations: the page keeps its English. */
export function addEmbeddedStrings(doc = document) {
  const data = doc.getElementById('protocols-data');
  if (data) {
    try {
      for (const p of JSON.parse(data.textContent) || []) addStrings(p.strings, `p:${p.name}:`);
    } catch {
      /* unreadable: no protocol words */
    }
  }
  for (const own of doc.querySelectorAll('script.page-strings')) {
    try {
      addStrings(JSON.parse(own.textContent));
    } catch {
      /* unreadable: the page keeps its English */
    }
  }
}

export function has(key) {
  return key in dicts[lang] || key in dicts.en;
}

/** Translate `key`; `fallback` when no dictionary has it (default: the key itself). */
export function t(key, args, fallback) {
  let s = dicts[lang][key];
  if (s === undefined) s = dicts.en[key];
  if (s === undefined) s = fallback !== undefined ? fallback : key;
  if (args && s.indexOf('{') >= 0) {
    s = s.replace(/\{(\w+)\}/g, (m, name) => (name in args && args[name] !== undefined ? String(args[name]) : m));
  }
  return s;
}

/** A node's label from its view: plain text, or [key, args] in the protocol's strings. */
export function labelText(label) {
  if (Array.isArray(label)) return t(String(label[0]), label[1] && typeof label[1] === 'object' ? label[1] : null);
  return label === undefined || label === null ? '' : String(label);
}

/** t() for a protocol-declared name: `${prefix}.${name}`, falling back to the raw name. */
export function tn(prefix, name) {
  return t(`${prefix}.${name}`, null, String(name));
}

/** An element's data-i18n-args; an argument given as {key, text} is translated itself
 *  (a protocol's title inside a sentence of the page). */
function parseArgs(el) {
  const raw = el.getAttribute('data-i18n-args');
  if (!raw) return null;
  let args;
  try {
    args = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!args || typeof args !== 'object') return null;
  for (const [name, v] of Object.entries(args)) {
    if (v && typeof v === 'object' && typeof v.key === 'string') args[name] = t(v.key, null, String(v.text ?? v.key));
  }
  return args;
}

export function translatePage(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) {
    if (!originals.has(el)) originals.set(el, el.textContent);
    el.textContent = t(el.getAttribute('data-i18n'), parseArgs(el), originals.get(el));
  }
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    for (const part of el.getAttribute('data-i18n-attr').split(';')) {
      const at = part.indexOf(':'); // the key may hold colons itself (p:<protocol>:<key>)
      const attr = at > 0 ? part.slice(0, at).trim() : '';
      const key = at > 0 ? part.slice(at + 1).trim() : '';
      if (!attr || !key) continue;
      const store = `data-i18n-orig-${attr}`;
      if (!el.hasAttribute(store)) el.setAttribute(store, el.getAttribute(attr) || '');
      el.setAttribute(attr, t(key, null, el.getAttribute(store)));
    }
  }
}

export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function setLang(l, { remember = true } = {}) {
  if (!LANGS.includes(l)) l = 'en';
  lang = l;
  if (remember) {
    try {
      localStorage.setItem(STORE_KEY, l);
    } catch {
      /* private mode: the choice lasts for this page only */
    }
  }
  document.documentElement.lang = l === 'zh' ? 'zh-CN' : 'en';
  translatePage();
  const sel = document.getElementById('lang');
  if (sel && sel.value !== l) sel.value = l;
  for (const fn of listeners) fn(l);
}

async function loadDict(l) {
  try {
    const res = await fetch(new URL(`../i18n/${l}.json`, import.meta.url));
    if (!res.ok) return {};
    return await res.json();
  } catch {
    return {};
  }
}

/** Load dictionaries, wire the #lang switch, translate the page. */
export async function initI18n() {
  const [en, zh] = await Promise.all([loadDict('en'), loadDict('zh')]);
  // Generic strings first; protocol strings added later may extend them.
  dicts.en = { ...en, ...dicts.en };
  dicts.zh = { ...zh, ...dicts.zh };
  const sel = document.getElementById('lang');
  if (sel) sel.addEventListener('change', () => setLang(sel.value));
  setLang(preferredLang(), { remember: false });
  document.documentElement.classList.remove('i18n-pending');
}
