import { store, useStore } from './state.js';
import { en, zh, type Messages } from './messages.js';

export type Lang = 'en' | 'zh';
const dictionaries: Record<Lang, Messages> = { en, zh };

function initialLang(): Lang {
  const saved = localStorage.getItem('dozen.lang');
  if (saved === 'en' || saved === 'zh') return saved;
  return navigator.languages.some((language) => language.toLowerCase().startsWith('zh')) ? 'zh' : 'en';
}

export const lang = store<Lang>(initialLang());
document.documentElement.lang = lang.get() === 'zh' ? 'zh-CN' : 'en';

export function setLang(next: Lang): void {
  localStorage.setItem('dozen.lang', next);
  document.documentElement.lang = next === 'zh' ? 'zh-CN' : 'en';
  lang.set(next);
}

export type MessageKey = keyof Messages;

/** The message in the current language, with {name} placeholders filled. */
export function t(key: MessageKey, values: Record<string, string | number> = {}): string {
  return dictionaries[lang.get()][key].replace(/\{(\w+)\}/g, (_, name: string) => String(values[name] ?? ''));
}

/** Re-renders the component when the language changes; returns t. */
export function useT(): typeof t {
  useStore(lang);
  return t;
}
