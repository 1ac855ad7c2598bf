// ThriftData in the browser: cost from the lake (FOCUS rows of every billing export, OpenCost
// allocation and Datoferum's own storage), by month and grouped by the column asked for, and the
// largest items. It reads only the lake's cost API; its charts load with the dashboard's library.
import { lazy, Suspense, useEffect, useState } from "react";
import {
  Alert, Box, Card, CardContent, FormControl, InputLabel, MenuItem, Select, Stack, Table, TableBody, TableCell,
  TableHead, TableRow, Typography,
} from "@mui/material";
import { Title, usePermissions, useTranslate } from "react-admin";
import { api, type Role } from "../api";
import { useFormat } from "../format";
import { can } from "../permissions";

const CostChart = lazy(() => import("./costChart"));

export interface CostRow {
  period?: string;
  BillingCurrency: string;
  cost: number;
  [group: string]: string | number | null | undefined;
}

const GROUPS = ["ServiceName", "ProviderName", "ServiceCategory", "SubAccountName", "RegionId", "ChargeCategory"];
const COSTS = ["BilledCost", "EffectiveCost", "ListCost", "ContractedCost"];

function money(value: number, currency: string, locale: string): string {
  try {
    return new Intl.NumberFormat(locale, { style: "currency", currency }).format(value);
  } catch {
    return `${value.toFixed(2)} ${currency}`;
  }
}

export function InsightsPage() {
  const translate = useTranslate();
  const format = useFormat();
  const { permissions } = usePermissions<Role>();
  const [group, setGroup] = useState("ServiceName");
  const [column, setColumn] = useState("BilledCost");
  // Each answer is kept with the grouping it was asked for, so a chart or table never labels
  // the rows of one grouping with another's column while the new answer is on its way.
  const [monthly, setMonthly] = useState<{ group: string; rows: CostRow[] } | null>(null);
  const [top, setTop] = useState<{ group: string; rows: CostRow[] } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const allowed = can(permissions, "lake:query");

  useEffect(() => {
    if (!allowed) return;
    setError(null);
    const common = `cost=${encodeURIComponent(column)}`;
    api<{ items: CostRow[] }>(`/api/v1/lake/cost?group_by=${encodeURIComponent(group)}&granularity=month&${common}`)
      .then(({ json }) => setMonthly({ group, rows: json.items }))
      .catch((failure: Error) => setError(failure.message));
    api<{ items: CostRow[] }>(`/api/v1/lake/cost/top?by=${encodeURIComponent(group)}&n=10&${common}`)
      .then(({ json }) => setTop({ group, rows: json.items }))
      .catch((failure: Error) => setError(failure.message));
  }, [allowed, group, column]);

  return (
    // minWidth 0 and overflow hidden: a chart keeps its drawn width until it resizes, and must
    // never widen the page on a phone meanwhile.
    <Card sx={{ mt: 2, minWidth: 0, overflow: "hidden" }}>
      <Title title={translate("datoferum.insights.title")} />
      <CardContent sx={{ display: "grid", gap: 2 }}>
        <Typography variant="h5" component="h1">
          {translate("datoferum.insights.title")}
        </Typography>
        {!allowed && <Alert severity="info">{translate("datoferum.insights.not_allowed")}</Alert>}
        {allowed && (
          <Stack direction={{ xs: "column", sm: "row" }} sx={{ gap: 2 }}>
            <FormControl size="small" sx={{ minWidth: 220 }}>
              <InputLabel id="insights-group-label">{translate("datoferum.insights.group_by")}</InputLabel>
              <Select labelId="insights-group-label" id="insights-group" label={translate("datoferum.insights.group_by")} value={group} onChange={(event) => setGroup(event.target.value)}>
                {GROUPS.map((name) => (
                  <MenuItem key={name} value={name}>{name}</MenuItem>
                ))}
              </Select>
            </FormControl>
            <FormControl size="small" sx={{ minWidth: 220 }}>
              <InputLabel id="insights-cost-label">{translate("datoferum.insights.cost_column")}</InputLabel>
              <Select labelId="insights-cost-label" id="insights-cost" label={translate("datoferum.insights.cost_column")} value={column} onChange={(event) => setColumn(event.target.value)}>
                {COSTS.map((name) => (
                  <MenuItem key={name} value={name}>{name}</MenuItem>
                ))}
              </Select>
            </FormControl>
          </Stack>
        )}
        {error && <Alert severity="error">{error}</Alert>}
        {allowed && monthly && monthly.rows.length === 0 && <Alert severity="info">{translate("datoferum.insights.empty")}</Alert>}
        {allowed && monthly && monthly.rows.length > 0 && (
          <Box sx={{ minWidth: 0, overflow: "hidden" }}>
            <Typography variant="h6" component="h2" gutterBottom>
              {translate("datoferum.insights.by_month", { group: monthly.group, column })}
            </Typography>
            <Suspense fallback={null}>
              <CostChart rows={monthly.rows} group={monthly.group} />
            </Suspense>
          </Box>
        )}
        {allowed && top && top.rows.length > 0 && (
          <Box sx={{ overflowX: "auto" }}>
            <Typography variant="h6" component="h2" gutterBottom>
              {translate("datoferum.insights.top", { group: top.group })}
            </Typography>
            <Table size="small" aria-label={translate("datoferum.insights.top", { group: top.group })}>
              <TableHead>
                <TableRow>
                  <TableCell>{top.group}</TableCell>
                  <TableCell align="right">{column}</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {top.rows.map((row, index) => (
                  <TableRow key={`${String(row[top.group])}-${row.BillingCurrency}-${index}`}>
                    <TableCell>{String(row[top.group] ?? "—")}</TableCell>
                    <TableCell align="right">{money(row.cost, row.BillingCurrency, format.locale)}</TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          </Box>
        )}
      </CardContent>
    </Card>
  );
}
