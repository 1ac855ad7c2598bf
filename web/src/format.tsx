// Dates, numbers and byte sizes in the reader's locale, through Intl.
import { Chip } from "@mui/material";
import { useLocaleState, useRecordContext, useTranslate } from "react-admin";

const UNITS = ["byte", "kilobyte", "megabyte", "gigabyte", "terabyte", "petabyte"] as const;

export function formatBytes(value: number, locale: string): string {
  let unit = 0;
  let amount = value;
  // Decimal multiples, so the unit Intl prints (kB, MB: powers of 1000) is the one computed.
  while (amount >= 1000 && unit < UNITS.length - 1) {
    amount /= 1000;
    unit += 1;
  }
  return new Intl.NumberFormat(locale, {
    style: "unit",
    unit: UNITS[unit],
    unitDisplay: unit === 0 ? "long" : "short",
    maximumFractionDigits: unit === 0 ? 0 : 1,
  }).format(amount);
}

export function formatDate(value: string | null | undefined, locale: string): string {
  if (!value) return "—";
  // The server writes UTC; a time without an offset is UTC too.
  const moment = new Date(/[zZ]|[+-]\d\d:\d\d$/.test(value) ? value : `${value}Z`);
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "medium" }).format(moment);
}

export function formatNumber(value: number, locale: string): string {
  return new Intl.NumberFormat(locale).format(value);
}

export function useFormat() {
  const [locale] = useLocaleState();
  return {
    locale,
    bytes: (value: number) => formatBytes(value, locale),
    date: (value: string | null | undefined) => formatDate(value, locale),
    number: (value: number) => formatNumber(value, locale),
  };
}

export function BytesField({ source }: { source: string; label?: string; sortable?: boolean }) {
  const record = useRecordContext();
  const format = useFormat();
  const value = record?.[source];
  return <span>{typeof value === "number" ? format.bytes(value) : "—"}</span>;
}

export function DateText({ source }: { source: string; label?: string; sortable?: boolean }) {
  const record = useRecordContext();
  const format = useFormat();
  return <span>{format.date(record?.[source] as string | undefined)}</span>;
}

const STATE_COLORS: Record<string, "default" | "success" | "warning" | "error" | "info"> = {
  stored: "success",
  placing: "info",
  captured: "info",
  classified: "info",
  purging: "warning",
  purged: "default",
  succeeded: "success",
  queued: "info",
  running: "warning",
  failed: "error",
  cancelled: "default",
  active: "success",
  used: "default",
  expired: "default",
  revoked: "warning",
  unavailable: "warning",
};

export function StateChip({ source = "state" }: { source?: string; label?: string; sortable?: boolean }) {
  const record = useRecordContext();
  const translate = useTranslate();
  const value = record?.[source] as string | undefined;
  if (!value) return null;
  return (
    <Chip
      size="small"
      variant="outlined"
      color={STATE_COLORS[value] ?? "default"}
      label={translate(`datoferum.states.${value}`, { _: value })}
    />
  );
}
