// The dashboard: totals by collection and by state, captures per day, purges due per day, the
// queue and the purge lag, the newest events. It is loaded on its own (React.lazy) because it
// carries the charting library.
import { useCallback, useEffect, useRef, useState } from "react";
import { Alert, Box, Card, CardContent, Chip, Stack, Typography, useTheme } from "@mui/material";
import ReactEChartsCore from "echarts-for-react/lib/core";
import * as echarts from "echarts/core";
import { BarChart, PieChart } from "echarts/charts";
import { AriaComponent, GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import { SVGRenderer } from "echarts/renderers";
import { Title, usePermissions, useTranslate } from "react-admin";
import { Link } from "react-router-dom";
import { api, followEvents, type Role } from "./api";
import { useFormat } from "./format";
import { can } from "./permissions";

echarts.use([BarChart, PieChart, GridComponent, TooltipComponent, LegendComponent, AriaComponent, SVGRenderer]);

interface Group {
  files: number;
  bytes: number;
  collection?: string;
  state?: string;
}
interface Stats {
  files: number;
  bytes: number;
  by_collection: Group[];
  by_state: Group[];
}
interface Queue {
  jobs: Record<string, number>;
  oldest_due_seconds: number;
  next_purge_due: string | null;
  purges_overdue: number;
  purge_lag_seconds: number;
}
interface Day {
  day: string;
  versions: number;
  bytes: number;
}
interface Activity {
  days: number;
  captured: Day[];
  purges_due: Day[];
}

const ACTIVITY_DAYS = 30;

/** Every day from ``first`` for ``count`` days (YYYY-MM-DD, UTC), so quiet days show as zero. */
function dayRange(first: Date, count: number): string[] {
  return Array.from({ length: count }, (_, index) => new Date(first.getTime() + index * 86_400_000).toISOString().slice(0, 10));
}
interface EventRow {
  id: string;
  seq: number;
  type: string;
  actor: string;
  time: string;
  file_id: string | null;
  details?: { path?: string };
}

const REFRESH_MS = 15_000;

function Panel({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    // overflow hidden: a chart keeps its drawn width until it resizes, and must never widen
    // the page on a phone meanwhile.
    <Card sx={{ flex: "1 1 300px", minWidth: 0, overflow: "hidden" }}>
      <CardContent>
        <Typography variant="h6" component="h2" gutterBottom>
          {title}
        </Typography>
        {children}
      </CardContent>
    </Card>
  );
}

export default function Dashboard() {
  const translate = useTranslate();
  const format = useFormat();
  const theme = useTheme();
  const { permissions } = usePermissions<Role>();
  const [stats, setStats] = useState<Stats | null>(null);
  const [queue, setQueue] = useState<Queue | null>(null);
  const [activity, setActivity] = useState<Activity | null>(null);
  const [events, setEvents] = useState<EventRow[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [live, setLive] = useState(false);
  // While the stream is live it brings the new events, so the polling skips that listing.
  const liveRef = useRef(false);

  const loadStats = useCallback(() => {
    api<Stats>("/api/v1/stats")
      .then(({ json }) => setStats(json))
      .catch((failure: Error) => setError(failure.message));
    api<Activity>(`/api/v1/stats/activity?days=${ACTIVITY_DAYS}`)
      .then(({ json }) => setActivity(json))
      .catch(() => setActivity(null));
  }, []);

  const load = useCallback(() => {
    loadStats();
    if (can(permissions, "jobs:read")) {
      api<Queue>("/api/v1/queue").then(({ json }) => setQueue(json)).catch(() => setQueue(null));
    }
    if (can(permissions, "events:read") && !liveRef.current) {
      const query = new URLSearchParams({ sort: '["seq","DESC"]', range: "[0,9]", filter: "{}" });
      api<{ items: EventRow[] }>(`/api/v1/events?${query}`).then(({ json }) => setEvents(json.items)).catch(() => setEvents(null));
    }
  }, [permissions, loadStats]);

  useEffect(() => {
    load();
    const timer = window.setInterval(load, REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [load]);

  // New events arrive as they happen; the totals follow a second later (one request for a
  // burst of uploads, not one each).
  useEffect(() => {
    if (!can(permissions, "events:read")) return undefined;
    let pending: number | undefined;
    const stop = followEvents((event) => {
      setEvents((shown) => [event as unknown as EventRow, ...(shown ?? [])].slice(0, 10));
      window.clearTimeout(pending);
      pending = window.setTimeout(loadStats, 1000);
    }, (now) => {
      liveRef.current = now;
      setLive(now);
    });
    return () => {
      stop();
      window.clearTimeout(pending);
    };
  }, [permissions, loadStats]);

  const text = theme.palette.text.primary;
  const byCollection = {
    aria: { enabled: true },
    backgroundColor: "transparent",
    textStyle: { color: text },
    tooltip: { trigger: "axis", valueFormatter: (value: number) => format.bytes(value) },
    grid: { left: 8, right: 16, top: 8, bottom: 8, containLabel: true },
    xAxis: { type: "value", axisLabel: { color: text, formatter: (value: number) => format.bytes(value) } },
    yAxis: { type: "category", axisLabel: { color: text }, data: (stats?.by_collection ?? []).slice(0, 12).map((row) => row.collection) },
    series: [{ type: "bar", data: (stats?.by_collection ?? []).slice(0, 12).map((row) => row.bytes), itemStyle: { color: theme.palette.primary.main } }],
  };
  const perDay = (title: string, days: string[], rows: Day[] | undefined, color: string) => {
    const found = new Map((rows ?? []).map((row) => [row.day, row]));
    // Said to screen readers instead of the bars: the days that have any, with their counts.
    const busy = days.filter((day) => found.has(day)).map((day) => `${day}: ${format.number(found.get(day)!.versions)} (${format.bytes(found.get(day)!.bytes)})`);
    return {
      aria: { enabled: true, label: { description: `${title}. ${busy.length ? busy.join("; ") : translate("datoferum.common.none")}.` } },
      backgroundColor: "transparent",
      textStyle: { color: text },
      tooltip: {
        trigger: "axis",
        formatter: (items: { axisValue: string; dataIndex: number }[]) => {
          const row = found.get(days[items[0].dataIndex]);
          return `${format.date(items[0].axisValue)}<br/>${format.number(row?.versions ?? 0)} · ${format.bytes(row?.bytes ?? 0)}`;
        },
      },
      grid: { left: 8, right: 16, top: 8, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: days, axisLabel: { color: text, formatter: (day: string) => day.slice(5) } },
      yAxis: { type: "value", minInterval: 1, axisLabel: { color: text } },
      series: [{ type: "bar", data: days.map((day) => found.get(day)?.versions ?? 0), itemStyle: { color } }],
    };
  };
  const today = new Date(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`);
  const capturedTitle = translate("datoferum.dashboard.captured", { days: ACTIVITY_DAYS });
  const purgesTitle = translate("datoferum.dashboard.purges_due", { days: ACTIVITY_DAYS });
  const captured = perDay(
    capturedTitle,
    dayRange(new Date(today.getTime() - (ACTIVITY_DAYS - 1) * 86_400_000), ACTIVITY_DAYS),
    activity?.captured,
    theme.palette.primary.main,
  );
  const purgesDue = perDay(purgesTitle, dayRange(today, ACTIVITY_DAYS + 1), activity?.purges_due, theme.palette.warning.main);
  const byState = {
    aria: { enabled: true },
    backgroundColor: "transparent",
    textStyle: { color: text },
    tooltip: { trigger: "item", valueFormatter: (value: number) => format.number(value) },
    legend: { bottom: 0, textStyle: { color: text } },
    series: [
      {
        type: "pie",
        radius: ["40%", "70%"],
        label: { color: text },
        data: (stats?.by_state ?? []).map((row) => ({
          name: translate(`datoferum.states.${row.state}`, { _: row.state ?? "" }),
          value: row.files,
        })),
      },
    ],
  };

  return (
    <Box sx={{ mt: 2, minWidth: 0, overflowWrap: "anywhere" }}>
      <Title title={translate("datoferum.dashboard.title")} />
      <Stack direction="row" sx={{ mb: 2, gap: 2, alignItems: "center" }}>
        <Typography variant="h5" component="h1">
          {translate("datoferum.dashboard.title")}
        </Typography>
        {live && <Chip size="small" color="success" label={translate("datoferum.dashboard.live")} data-testid="live" />}
      </Stack>
      {error && <Alert severity="error">{error}</Alert>}
      <Stack direction="row" sx={{ flexWrap: "wrap", gap: 2 }}>
        <Panel title={translate("datoferum.dashboard.total_files")}>
          <Typography variant="h4" component="p" data-testid="total-files">
            {stats ? format.number(stats.files) : "…"}
          </Typography>
          <Typography variant="body2">
            {translate("datoferum.dashboard.total_bytes")}: {stats ? format.bytes(stats.bytes) : "…"}
          </Typography>
        </Panel>
        {queue && (
          <Panel title={translate("datoferum.dashboard.queue")}>
            <Stack direction="row" sx={{ flexWrap: "wrap", gap: 1 }}>
              {Object.entries(queue.jobs).map(([state, count]) => (
                <Chip
                  key={state}
                  label={`${translate(`datoferum.states.${state}`, { _: state })}: ${format.number(count)}`}
                  variant="outlined"
                />
              ))}
            </Stack>
            <Typography variant="body2" sx={{ mt: 1 }}>
              {translate("datoferum.dashboard.oldest_due")}: {format.number(Math.round(queue.oldest_due_seconds))} s
            </Typography>
            <Typography variant="body2" data-testid="purge-lag">
              {translate("datoferum.dashboard.purge_lag")}: {format.number(Math.round(queue.purge_lag_seconds))} s
              {" · "}
              {translate("datoferum.dashboard.purges_overdue")}: {format.number(queue.purges_overdue)}
            </Typography>
            <Typography variant="body2">
              {translate("datoferum.dashboard.next_purge")}: {queue.next_purge_due ? format.date(queue.next_purge_due) : "—"}
            </Typography>
          </Panel>
        )}
      </Stack>
      <Stack direction="row" sx={{ flexWrap: "wrap", gap: 2, mt: 2 }}>
        <Panel title={translate("datoferum.dashboard.by_collection")}>
          <ReactEChartsCore echarts={echarts} option={byCollection} notMerge style={{ height: 280, width: "100%" }} opts={{ renderer: "svg" }} />
        </Panel>
        <Panel title={translate("datoferum.dashboard.by_state")}>
          <ReactEChartsCore echarts={echarts} option={byState} notMerge style={{ height: 280, width: "100%" }} opts={{ renderer: "svg" }} />
        </Panel>
      </Stack>
      <Stack direction="row" sx={{ flexWrap: "wrap", gap: 2, mt: 2 }}>
        <Panel title={capturedTitle}>
          <ReactEChartsCore echarts={echarts} option={captured} notMerge style={{ height: 240, width: "100%" }} opts={{ renderer: "svg" }} />
        </Panel>
        <Panel title={purgesTitle}>
          <ReactEChartsCore echarts={echarts} option={purgesDue} notMerge style={{ height: 240, width: "100%" }} opts={{ renderer: "svg" }} />
        </Panel>
      </Stack>
      {events && (
        <Box sx={{ mt: 2 }}>
          <Panel title={translate("datoferum.dashboard.recent")}>
            <Box component="ul" sx={{ listStyle: "none", p: 0, m: 0 }}>
              {events.map((event) => (
                <Box component="li" key={event.id} sx={{ py: 0.5, borderBottom: 1, borderColor: "divider" }}>
                  <Typography variant="body2">
                    {format.date(event.time)} · <strong>{event.type}</strong> · {event.actor}
                    {event.details?.path ? ` · ${event.details.path}` : ""}
                    {event.file_id && (
                      <>
                        {" · "}
                        <Link to={`/files/${event.file_id}/show`}>{event.file_id.slice(0, 8)}…</Link>
                      </>
                    )}
                  </Typography>
                </Box>
              ))}
            </Box>
          </Panel>
        </Box>
      )}
    </Box>
  );
}
