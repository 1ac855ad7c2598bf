import { Box, Button, LinearProgress, Typography, useMediaQuery, type Theme } from "@mui/material";
import {
  Datagrid, List, NumberField, SelectInput, SimpleList, TextField, TextInput, useNotify,
  usePermissions, useRecordContext, useRefresh, useTranslate,
} from "react-admin";
import { api, type Role } from "../api";
import { DateText, StateChip, useFormat } from "../format";
import { can } from "../permissions";

const jobStates = ["queued", "running", "succeeded", "failed", "cancelled"].map((id) => ({
  id,
  name: `datoferum.states.${id}`,
}));
const LIVE_MS = 2000;

const jobFilters = [
  <SelectInput key="state" source="state" choices={jobStates} alwaysOn />,
  <TextInput key="kind" source="kind" alwaysOn />,
];

function Progress(_props: { label?: string }) {
  const record = useRecordContext();
  const format = useFormat();
  if (!record) return null;
  const done = Number(record.progress?.done ?? record.progress_done ?? 0);
  const total = Number(record.progress?.total ?? record.progress_total ?? 0);
  if (!total) return <Typography variant="body2">{done ? format.number(done) : "—"}</Typography>;
  return (
    <Box sx={{ minWidth: 120 }}>
      <LinearProgress variant="determinate" value={Math.min(100, (100 * done) / total)} aria-label={`${done}/${total}`} />
      <Typography variant="caption">
        {format.number(done)} / {format.number(total)}
      </Typography>
    </Box>
  );
}

function CancelButton() {
  const record = useRecordContext();
  const translate = useTranslate();
  const notify = useNotify();
  const refresh = useRefresh();
  if (!record || !["queued", "running"].includes(String(record.state))) return null;
  const cancel = async () => {
    try {
      await api(`/api/v1/jobs/${record.id}/cancel`, { method: "POST" });
      notify("datoferum.jobs.cancelled", { type: "info" });
      refresh();
    } catch (error) {
      notify((error as Error).message, { type: "error" });
    }
  };
  return (
    <Button size="small" color="warning" onClick={(event) => { event.stopPropagation(); void cancel(); }}>
      {translate("datoferum.jobs.cancel")}
    </Button>
  );
}

export function JobList() {
  const { permissions } = usePermissions<Role>();
  const small = useMediaQuery<Theme>((theme) => theme.breakpoints.down("sm"));
  return (
    // Live: the page asks again every few seconds while it is shown, so states and progress bars
    // move by themselves (a window of 25 jobs is cheap to read).
    <List filters={jobFilters} sort={{ field: "created_at", order: "DESC" }} queryOptions={{ refetchInterval: LIVE_MS }}>
      {small ? (
        <SimpleList primaryText={(record) => String(record.kind)} secondaryText={(record) => String(record.state)} linkType={false} />
      ) : (
        <Datagrid bulkActionButtons={false} rowClick={false}>
          <TextField source="kind" />
          <StateChip source="state" />
          <Progress label="resources.jobs.fields.progress" />
          <NumberField source="attempts" />
          <DateText source="created_at" />
          <DateText source="finished_at" />
          <TextField source="last_error" sortable={false} />
          {can(permissions, "jobs:manage") && <CancelButton />}
        </Datagrid>
      )}
    </List>
  );
}
