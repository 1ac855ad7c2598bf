import { useState } from "react";
import { Alert, Box, Button, Card, CardContent, TextField, Typography } from "@mui/material";
import { BooleanField, Datagrid, DeleteButton, FunctionField, List, TextField as RaTextField, Title, useTranslate, type RaRecord } from "react-admin";
import { Link } from "react-router-dom";
import { api, jsonBody } from "../api";
import { DateText } from "../format";

export function WebhookList() {
  return (
    <List sort={{ field: "created_at", order: "DESC" }}>
      <Datagrid bulkActionButtons={false} rowClick={false}>
        <RaTextField source="url" />
        <FunctionField source="event_types" sortable={false} render={(record: RaRecord) => (record.event_types as string[]).join(", ")} />
        <RaTextField source="collection" />
        <BooleanField source="active" />
        <DateText source="created_at" />
        <DeleteButton mutationMode="pessimistic" />
      </Datagrid>
    </List>
  );
}

/** Subscribing shows the signing secret once, so this is a page rather than a plain form. */
export function WebhookCreate() {
  const translate = useTranslate();
  const [url, setUrl] = useState("");
  const [types, setTypes] = useState("file.*");
  const [collection, setCollection] = useState("");
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const create = async () => {
    setError(null);
    try {
      const body: Record<string, unknown> = { url, event_types: types.split(",").map((item) => item.trim()).filter(Boolean) };
      if (collection) body.collection = collection;
      const { json } = await api<{ secret: string }>("/api/v1/webhooks", jsonBody(body));
      setSecret(json.secret);
    } catch (failure) {
      setError((failure as Error).message);
    }
  };
  return (
    <Card sx={{ mt: 2 }}>
      <Title title={translate("resources.webhooks.name", { smart_count: 1 })} />
      <CardContent sx={{ display: "grid", gap: 2, maxWidth: 640 }}>
        <Typography variant="h5" component="h1">
          {translate("ra.page.create", { name: translate("resources.webhooks.name", { smart_count: 1 }) })}
        </Typography>
        <TextField id="webhook-url" label={translate("resources.webhooks.fields.url")} value={url} onChange={(e) => setUrl(e.target.value)} />
        <TextField id="webhook-types" label={translate("resources.webhooks.fields.event_types")} value={types} onChange={(e) => setTypes(e.target.value)} />
        <TextField id="webhook-collection" label={translate("resources.webhooks.fields.collection")} value={collection} onChange={(e) => setCollection(e.target.value)} />
        {error && <Alert severity="error">{error}</Alert>}
        {secret && (
          <Alert severity="success" sx={{ wordBreak: "break-all" }}>
            {translate("datoferum.webhooks.secret_once", { secret })}
          </Alert>
        )}
        <Box sx={{ display: "flex", gap: 1 }}>
          <Button variant="contained" onClick={() => void create()} disabled={!url}>
            {translate("ra.action.create")}
          </Button>
          <Button component={Link} to="/webhooks">
            {translate("ra.action.list")}
          </Button>
        </Box>
      </CardContent>
    </Card>
  );
}
