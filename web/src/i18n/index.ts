// English and Portuguese (Brazil), switchable from the app bar; the choice is remembered by
// react-admin's store. Dates, numbers and sizes follow the same locale through Intl (format.ts).
import polyglotI18nProvider from "ra-i18n-polyglot";
import type { TranslationMessages } from "react-admin";
import englishMessages from "ra-language-english";
import { en } from "./en";
import { pt } from "./pt";
import { raPt } from "./raPt";

type Tree = { [key: string]: unknown };

function merge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] =
      value && typeof value === "object" && current && typeof current === "object"
        ? merge(current as Tree, value as Tree)
        : value;
  }
  return out;
}

const english = merge(englishMessages as unknown as Tree, en as unknown as Tree);
const portuguese = merge(merge(englishMessages as unknown as Tree, raPt), pt as unknown as Tree);

export const LOCALES = [
  { locale: "en", name: "English" },
  { locale: "pt-BR", name: "Português (Brasil)" },
];

function initial(): string {
  const stored = localStorage.getItem("RaStore.locale");
  if (stored) return JSON.parse(stored) as string;
  return navigator.language.toLowerCase().startsWith("pt") ? "pt-BR" : "en";
}

export const i18nProvider = polyglotI18nProvider(
  (locale) => (locale === "pt-BR" ? portuguese : english) as unknown as TranslationMessages,
  initial(),
  LOCALES,
  { allowMissing: true },
);
