// The Insights page's chart: cost per month, one stacked series per group (the eight largest,
// the rest summed as one). Kept apart so the charting library loads only where it is drawn.
import { useTheme } from "@mui/material";
import ReactEChartsCore from "echarts-for-react/lib/core";
import * as echarts from "echarts/core";
import { BarChart } from "echarts/charts";
import { AriaComponent, GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import { SVGRenderer } from "echarts/renderers";
import { useTranslate } from "react-admin";
import type { CostRow } from "./insights";

echarts.use([BarChart, GridComponent, TooltipComponent, LegendComponent, AriaComponent, SVGRenderer]);

const SHOWN = 8;

export default function CostChart({ rows, group }: { rows: CostRow[]; group: string }) {
  const theme = useTheme();
  const translate = useTranslate();
  const currencies = new Set(rows.map((row) => row.BillingCurrency));
  const label = (row: CostRow) => {
    const name = String(row[group] ?? "—");
    return currencies.size > 1 ? `${name} (${row.BillingCurrency})` : name;
  };
  const totals = new Map<string, number>();
  rows.forEach((row) => totals.set(label(row), (totals.get(label(row)) ?? 0) + row.cost));
  const largest = [...totals.entries()].sort((a, b) => b[1] - a[1]).slice(0, SHOWN).map(([name]) => name);
  const other = translate("datoferum.insights.other");
  const periods = [...new Set(rows.map((row) => String(row.period)))].sort();
  const series = new Map<string, number[]>();
  for (const row of rows) {
    const name = largest.includes(label(row)) ? label(row) : other;
    const values = series.get(name) ?? periods.map(() => 0);
    values[periods.indexOf(String(row.period))] += row.cost;
    series.set(name, values);
  }
  const text = theme.palette.text.primary;
  const described = [...series.entries()]
    .map(([name, values]) => `${name}: ${values.map((value, index) => `${periods[index]} ${value.toFixed(2)}`).join(", ")}`)
    .join("; ");
  const option = {
    aria: { enabled: true, label: { description: `${translate("datoferum.insights.title")}. ${described}.` } },
    animation: false, // figures are read, not watched
    backgroundColor: "transparent",
    textStyle: { color: text },
    tooltip: { trigger: "axis", valueFormatter: (value: number) => value.toFixed(2) },
    legend: { bottom: 0, type: "scroll", textStyle: { color: text } },
    grid: { left: 8, right: 16, top: 8, bottom: 40, containLabel: true },
    xAxis: { type: "category", data: periods, axisLabel: { color: text } },
    yAxis: { type: "value", axisLabel: { color: text } },
    series: [...series.entries()].map(([name, values]) => ({ name, type: "bar", stack: "cost", data: values })),
  };
  return <ReactEChartsCore echarts={echarts} option={option} notMerge style={{ height: 320, width: "100%" }} opts={{ renderer: "svg" }} />;
}
