import { useState } from "react";
import { Alert, Box, Button, Card, CardContent, List as MuiList, ListItem, TextField, Typography } from "@mui/material";
import {
  Datagrid, FunctionField, List, SearchInput, Show, TextField as RaTextField, Title, usePermissions,
  useRecordContext, useRedirect, useTranslate, type RaRecord,
} from "react-admin";
import { api, jsonBody, type Role } from "../api";
import { DateText, useFormat } from "../format";
import { can } from "../permissions";

interface PolicyProblem {
  line?: number;
  field?: string;
  message: string;
}

const EXAMPLE = `policies:
  - name: raw-video
    description: Raw camera files are kept five years, then purged.
    resource: file
    mode: {type: manual}
    filters:
      - collection: videos
    actions:
      - tag: {tier: raw}
`;

/** Dry run of a stored policy: how many files it would act on, and the first of them. */
function Preview({ name }: { name: string }) {
  const translate = useTranslate();
  const [result, setResult] = useState<{ files: number; shown: number; items: Record<string, unknown>[] } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const run = async () => {
    setError(null);
    try {
      setResult((await api<typeof result & object>(`/api/v1/policies/${encodeURIComponent(name)}/run`, jsonBody({ dry_run: true }))).json);
    } catch (failure) {
      setError((failure as Error).message);
    }
  };
  return (
    <Box sx={{ mt: 2 }}>
      <Button variant="outlined" onClick={() => void run()}>
        {translate("datoferum.policies.preview")}
      </Button>
      {error && <Alert severity="error" sx={{ mt: 1 }}>{error}</Alert>}
      {result && (
        <Box sx={{ mt: 1 }}>
          <Alert severity="info">{translate("datoferum.policies.preview_result", { files: result.files, shown: result.shown })}</Alert>
          <Box component="pre" sx={{ fontSize: 12, whiteSpace: "pre-wrap", wordBreak: "break-all" }}>
            {JSON.stringify(result.items, null, 1)}
          </Box>
        </Box>
      )}
    </Box>
  );
}

/** YAML editor: the server validates; its problems come back with line numbers. */
function Editor({ initial }: { initial: string }) {
  const translate = useTranslate();
  const redirect = useRedirect();
  const [text, setText] = useState(initial);
  const [problems, setProblems] = useState<PolicyProblem[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const apply = async () => {
    setProblems(null);
    setError(null);
    try {
      const { json } = await api<{ items: { name: string }[] }>("/api/v1/policies?source=web", {
        method: "POST",
        body: text,
        headers: { "Content-Type": "application/yaml" },
      });
      const first = json.items[0];
      if (first) redirect(`/policies/${encodeURIComponent(first.name)}/show`);
    } catch (failure) {
      const body = (failure as { body?: { errors?: PolicyProblem[] } }).body;
      if (body?.errors?.length) setProblems(body.errors);
      else setError((failure as Error).message);
    }
  };
  return (
    <Box>
      <TextField
        id="policy-yaml"
        label={translate("datoferum.policies.editor")}
        value={text}
        onChange={(event) => setText(event.target.value)}
        multiline
        minRows={12}
        fullWidth
        slotProps={{ htmlInput: { spellCheck: false, style: { fontFamily: "monospace", fontSize: 13 } } }}
      />
      {problems && (
        <Alert severity="error" sx={{ mt: 1 }}>
          {translate("datoferum.policies.problems")}
          <MuiList dense>
            {problems.map((problem, index) => (
              <ListItem key={index}>
                {problem.line ? `${translate("datoferum.policies.line", { line: problem.line })}: ` : ""}
                {problem.message}
              </ListItem>
            ))}
          </MuiList>
        </Alert>
      )}
      {error && <Alert severity="error" sx={{ mt: 1 }}>{error}</Alert>}
      <Button variant="contained" sx={{ mt: 1 }} onClick={() => void apply()}>
        {translate("datoferum.policies.apply")}
      </Button>
    </Box>
  );
}

export function PolicyList() {
  return (
    <List filters={[<SearchInput key="q" source="q" alwaysOn />]} sort={{ field: "name", order: "ASC" }}>
      <Datagrid bulkActionButtons={false} rowClick="show">
        <RaTextField source="name" />
        <RaTextField source="version" />
        <FunctionField source="mode" sortable={false} render={(record: RaRecord) => String(record.mode?.type ?? "")} />
        <DateText source="created_at" />
        <RaTextField source="created_by" />
      </Datagrid>
    </List>
  );
}

function PolicyBody() {
  const record = useRecordContext();
  const format = useFormat();
  const { permissions } = usePermissions<Role>();
  if (!record) return null;
  const manage = can(permissions, "lifecycle:manage");
  return (
    <CardContent>
      <Typography variant="h5" component="h1">
        {String(record.name)} · v{String(record.version)}
      </Typography>
      <Typography variant="body2" gutterBottom>
        {format.date(record.created_at as string)} · {String(record.created_by)}
      </Typography>
      {manage ? (
        <Editor initial={String(record.document)} />
      ) : (
        <Box component="pre" sx={{ fontSize: 13, whiteSpace: "pre-wrap" }}>{String(record.document)}</Box>
      )}
      {manage && <Preview name={String(record.name)} />}
    </CardContent>
  );
}

export function PolicyShow() {
  return (
    <Show>
      <PolicyBody />
    </Show>
  );
}

export function PolicyCreate() {
  const translate = useTranslate();
  return (
    <Card sx={{ mt: 2 }}>
      <Title title={translate("resources.policies.name", { smart_count: 1 })} />
      <CardContent>
        <Editor initial={EXAMPLE} />
      </CardContent>
    </Card>
  );
}
