import { useState } from "react";
import {
  Alert, Box, Button as MuiButton, CardContent, Chip, Dialog, DialogActions, DialogContent,
  DialogTitle, Stack, Table, TableBody, TableCell, TableHead, TableRow, TextField as MuiTextField,
  Typography, useMediaQuery, type Theme,
} from "@mui/material";
import DownloadIcon from "@mui/icons-material/Download";
import GavelIcon from "@mui/icons-material/Gavel";
import DeleteSweepIcon from "@mui/icons-material/DeleteSweep";
import {
  Datagrid, List, SearchInput, SelectInput, Show, SimpleList, TextField, TextInput,
  TopToolbar, FilterButton, CreateButton, useGetList, useNotify, usePermissions, useRecordContext,
  useRefresh, useTranslate, type RaRecord,
} from "react-admin";
import { Link } from "react-router-dom";
import { api, download, jsonBody, type Role } from "../api";
import { BytesField, DateText, StateChip, useFormat } from "../format";
import { can } from "../permissions";
import { PurgePreview } from "./purge";
import { LinksPanel } from "./links";
import { SignalsPanel } from "./signals";

export const FILE_STATES = ["receiving", "captured", "classified", "placing", "stored", "purging", "purged"];
const stateChoices = FILE_STATES.map((state) => ({ id: state, name: `datoferum.states.${state}` }));

const fileFilters = (translate: (key: string) => string) => [
  <SearchInput key="q" source="q" alwaysOn placeholder={translate("datoferum.files.search")} />,
  <TextInput key="collection" source="collection" alwaysOn />,
  <SelectInput key="state" source="state" choices={stateChoices} />,
  <TextInput key="prefix" source="prefix" />,
];

function FileListActions() {
  const { permissions } = usePermissions<Role>();
  const translate = useTranslate();
  return (
    <TopToolbar>
      <FilterButton />
      {can(permissions, "data:write") && (
        <CreateButton to="/upload" label={translate("datoferum.files.upload")} />
      )}
    </TopToolbar>
  );
}

export function FileList() {
  const translate = useTranslate();
  const small = useMediaQuery<Theme>((theme) => theme.breakpoints.down("sm"));
  const format = useFormat();
  return (
    <List filters={fileFilters(translate)} sort={{ field: "id", order: "DESC" }} perPage={25} actions={<FileListActions />}>
      {small ? (
        <SimpleList
          primaryText={(record) => `${record.collection}/${record.path}`}
          secondaryText={(record) =>
            `v${record.version} · ${translate(`datoferum.states.${record.state}`, { _: record.state })} · ${format.bytes(record.size as number)}`
          }
          linkType="show"
        />
      ) : (
        <Datagrid rowClick="show" bulkActionButtons={false}>
          <TextField source="collection" />
          <TextField source="path" />
          <TextField source="version" />
          <StateChip source="state" />
          <BytesField source="size" />
          <DateText source="updated_at" />
        </Datagrid>
      )}
    </List>
  );
}

function Section({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <Box component="section" sx={{ mt: 3 }}>
      <Typography variant="h6" component="h2" gutterBottom>
        {title}
      </Typography>
      {children}
    </Box>
  );
}

function KeyValues({ values }: { values: Record<string, unknown> | null | undefined }) {
  const translate = useTranslate();
  const entries = Object.entries(values ?? {});
  if (!entries.length) return <Typography variant="body2">{translate("datoferum.common.none")}</Typography>;
  return (
    <Stack direction="row" sx={{ flexWrap: "wrap", gap: 1 }}>
      {entries.map(([key, value]) => (
        <Chip key={key} size="small" label={`${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`} />
      ))}
    </Stack>
  );
}

interface Version {
  version: number;
  version_id: string;
  state: string;
  size: number;
  sha256: string;
  created_at: string;
  created_by: string;
  replicas: { backend: string; key: string; state: string }[];
}

function Versions() {
  const record = useRecordContext();
  const translate = useTranslate();
  const format = useFormat();
  const versions = (record?.versions ?? []) as Version[];
  return (
    <Box sx={{ overflowX: "auto" }}>
      <Table size="small" aria-label={translate("datoferum.files.versions")}>
        <TableHead>
          <TableRow>
            <TableCell>{translate("resources.files.fields.version")}</TableCell>
            <TableCell>{translate("resources.files.fields.state")}</TableCell>
            <TableCell>{translate("resources.files.fields.size")}</TableCell>
            <TableCell>{translate("resources.files.fields.created_at")}</TableCell>
            <TableCell>{translate("datoferum.files.replicas")}</TableCell>
            <TableCell>{translate("resources.files.fields.sha256")}</TableCell>
          </TableRow>
        </TableHead>
        <TableBody>
          {versions.map((version) => (
            <TableRow key={version.version_id}>
              <TableCell>{version.version}</TableCell>
              <TableCell>{translate(`datoferum.states.${version.state}`, { _: version.state })}</TableCell>
              <TableCell>{format.bytes(version.size)}</TableCell>
              <TableCell>{format.date(version.created_at)}</TableCell>
              <TableCell>
                {version.replicas.map((replica) => (
                  <div key={`${replica.backend}/${replica.key}`}>
                    {replica.backend}: {replica.state}
                  </div>
                ))}
              </TableCell>
              <TableCell sx={{ fontFamily: "monospace" }} title={version.sha256}>
                {version.sha256.slice(0, 12)}…
              </TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </Box>
  );
}

export function Timeline({ fileId }: { fileId: string }) {
  const translate = useTranslate();
  const format = useFormat();
  const { data, isPending, error } = useGetList("events", {
    filter: { file_id: fileId },
    sort: { field: "seq", order: "ASC" },
    pagination: { page: 1, perPage: 200 },
  });
  if (isPending) return <Typography>{translate("datoferum.common.loading")}</Typography>;
  if (error) return <Alert severity="warning">{String((error as Error).message)}</Alert>;
  return (
    <Box component="ol" aria-label={translate("datoferum.files.timeline")} sx={{ listStyle: "none", p: 0, m: 0 }} data-testid="timeline">
      {(data ?? []).map((event: RaRecord) => (
        <Box component="li" key={event.id} sx={{ borderLeft: 3, borderColor: "primary.main", pl: 2, pb: 1.5, position: "relative" }}>
          <Typography variant="subtitle2" component="p">
            <strong>{String(event.type)}</strong> · {format.date(event.time as string)}
          </Typography>
          <Typography variant="body2" component="p">
            {translate("resources.events.fields.actor")}: {String(event.actor)}
            {event.version ? ` · v${event.version}` : ""}
          </Typography>
          {Object.keys(event.details ?? {}).length > 0 && (
            <Box component="pre" sx={{ fontSize: 12, m: 0, whiteSpace: "pre-wrap", wordBreak: "break-all" }}>
              {JSON.stringify(event.details, null, 1)}
            </Box>
          )}
        </Box>
      ))}
    </Box>
  );
}

function FileHolds({ fileId }: { fileId: string }) {
  const translate = useTranslate();
  const format = useFormat();
  const { data } = useGetList("holds", {
    filter: { target: fileId, active: true },
    sort: { field: "created_at", order: "DESC" },
    pagination: { page: 1, perPage: 50 },
  });
  if (!data?.length) return <Typography variant="body2">{translate("datoferum.files.no_holds")}</Typography>;
  return (
    <Stack sx={{ gap: 1 }}>
      <Alert severity="info" icon={<GavelIcon />}>
        {translate("datoferum.files.held_by", { count: data.length })}
      </Alert>
      {data.map((hold) => (
        <Typography key={hold.id} variant="body2">
          {String(hold.reason)} — {String(hold.owner)} · {format.date(hold.created_at as string)}
        </Typography>
      ))}
    </Stack>
  );
}

function PlaceHold({ fileId }: { fileId: string }) {
  const translate = useTranslate();
  const notify = useNotify();
  const refresh = useRefresh();
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState("");
  const [owner, setOwner] = useState("");
  const place = async () => {
    try {
      await api("/api/v1/holds", jsonBody({ scope: "file", target: fileId, reason, owner }));
      notify("datoferum.holds.placed", { type: "success" });
      setOpen(false);
      refresh();
    } catch (error) {
      notify((error as Error).message, { type: "error" });
    }
  };
  return (
    <>
      <MuiButton startIcon={<GavelIcon />} onClick={() => setOpen(true)}>
        {translate("datoferum.files.place_hold")}
      </MuiButton>
      <Dialog open={open} onClose={() => setOpen(false)} fullWidth>
        <DialogTitle>{translate("datoferum.holds.place")}</DialogTitle>
        <DialogContent sx={{ display: "grid", gap: 2, pt: "8px !important" }}>
          <MuiTextField id="hold-reason" label={translate("resources.holds.fields.reason")} value={reason} onChange={(e) => setReason(e.target.value)} required />
          <MuiTextField id="hold-owner" label={translate("resources.holds.fields.owner")} value={owner} onChange={(e) => setOwner(e.target.value)} required />
        </DialogContent>
        <DialogActions>
          <MuiButton onClick={() => setOpen(false)}>{translate("ra.action.cancel")}</MuiButton>
          <MuiButton variant="contained" onClick={() => void place()} disabled={!reason || !owner}>
            {translate("datoferum.holds.place")}
          </MuiButton>
        </DialogActions>
      </Dialog>
    </>
  );
}

function FileBody() {
  const record = useRecordContext();
  const translate = useTranslate();
  const notify = useNotify();
  const format = useFormat();
  const { permissions } = usePermissions<Role>();
  const [purgeOpen, setPurgeOpen] = useState(false);
  if (!record) return null;
  const fileId = String(record.id);
  return (
    <CardContent sx={{ minWidth: 0, overflowWrap: "anywhere" }}>
      <Typography variant="h5" component="h1" sx={{ wordBreak: "break-all" }}>
        {String(record.collection)}/{String(record.path)}
      </Typography>
      <Stack direction="row" sx={{ flexWrap: "wrap", gap: 1, mt: 1, alignItems: "center" }}>
        <StateChip />
        <Typography variant="body2">
          v{String(record.version)} · {format.bytes(record.size as number)} · {String(record.content_type ?? "")}
        </Typography>
      </Stack>
      <Stack direction="row" sx={{ flexWrap: "wrap", gap: 1, mt: 2 }}>
        {can(permissions, "data:read") && (
          <MuiButton
            variant="contained"
            startIcon={<DownloadIcon />}
            onClick={() =>
              download(String(record.collection), String(record.path)).catch((error: Error) => notify(error.message, { type: "error" }))
            }
          >
            {translate("datoferum.files.download")}
          </MuiButton>
        )}
        {can(permissions, "lifecycle:manage") && <PlaceHold fileId={fileId} />}
        {can(permissions, "lifecycle:manage") && (
          <MuiButton color="warning" startIcon={<DeleteSweepIcon />} onClick={() => setPurgeOpen(true)}>
            {translate("datoferum.files.purge_preview")}
          </MuiButton>
        )}
      </Stack>
      {purgeOpen && <PurgePreview fileId={fileId} onClose={() => setPurgeOpen(false)} />}
      <Section title={translate("datoferum.files.metadata")}>
        <Typography variant="body2" sx={{ fontFamily: "monospace", wordBreak: "break-all" }}>
          id {fileId} · sha256 {String(record.sha256)}
        </Typography>
        <Typography variant="body2">
          {translate("resources.files.fields.created_at")}: {format.date(record.created_at as string)} ·{" "}
          {translate("resources.files.fields.updated_at")}: {format.date(record.updated_at as string)}
        </Typography>
        <Box sx={{ mt: 1 }}>
          <KeyValues values={record.metadata as Record<string, unknown>} />
        </Box>
        <Typography variant="subtitle2" component="h3" sx={{ mt: 1 }}>
          {translate("datoferum.files.tags")}
        </Typography>
        <KeyValues values={record.tags as Record<string, unknown>} />
        <Typography variant="subtitle2" component="h3" sx={{ mt: 1 }}>
          {translate("datoferum.files.retention")}
        </Typography>
        <KeyValues values={record.retention as Record<string, unknown>} />
      </Section>
      {can(permissions, "lifecycle:read") && (
        <Section title={translate("datoferum.files.holds")}>
          <FileHolds fileId={fileId} />
        </Section>
      )}
      <Section title={translate("datoferum.files.versions")}>
        <Versions />
      </Section>
      {(can(permissions, "links:manage") || can(permissions, "lifecycle:read")) && (
        <Section title={translate("datoferum.files.links")}>
          <LinksPanel fileId={fileId} canManage={can(permissions, "links:manage")} />
        </Section>
      )}
      <Section title={translate("datoferum.files.signals")}>
        <SignalsPanel fileId={fileId} canSend={can(permissions, "signals:send")} />
      </Section>
      {can(permissions, "events:read") && (
        <Section title={translate("datoferum.files.timeline")}>
          <Timeline fileId={fileId} />
        </Section>
      )}
      <Box sx={{ mt: 2 }}>
        <Link to="/files">{translate("resources.files.name", { smart_count: 2 })}</Link>
      </Box>
    </CardContent>
  );
}

function FileTitle() {
  const record = useRecordContext();
  return <span>{record ? String(record.path).split("/").pop() : ""}</span>;
}

export function FileShow() {
  return (
    <Show title={<FileTitle />} sx={{ minWidth: 0, "& .RaShow-main, & .RaShow-card": { minWidth: 0 } }}>
      <FileBody />
    </Show>
  );
}
